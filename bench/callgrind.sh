# Sourced by the *Instructions.sh benchmarks: counting a command's instructions with valgrind's
# callgrind, and the per-item difference of two counts (start-up cancels out).

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

# instructions CMD… — runs CMD under callgrind and prints the instructions it executed (all threads);
# on failure prints CMD's output and exits.
instructions() {
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --smc-check=all-non-file "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  grep -oE 'Collected : [0-9]+' <<<"$out" | grep -oE '[0-9]+$'
}

# per_item LABEL SMALL LARGE COUNT_FN — COUNT_FN N prints the instructions of a run with N items; prints
# (count(LARGE) − count(SMALL)) / (LARGE − SMALL) with progress on stderr.
per_item() {
  local label=$1 small=$2 large=$3 fn=$4 a b
  a=$("$fn" "$small")
  echo "  $small $label: $a instructions" >&2
  b=$("$fn" "$large")
  echo "  $large $label: $b instructions" >&2
  echo $(( (b - a) / (large - small) ))
}
