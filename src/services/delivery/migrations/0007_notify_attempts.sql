-- Failed notices to ordering of an assignment are counted on their own (decision 0042's retry): the
-- backoff between them doubles from the notice's own count. It used `attempts`, the count of tries to
-- find a courier, which a notice never raises, so every retry came back after about the first step.
alter table delivery.dispatch_queue add column if not exists notify_attempts integer not null default 0 check (notify_attempts >= 0);
