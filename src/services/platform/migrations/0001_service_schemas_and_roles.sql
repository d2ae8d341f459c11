-- One schema and one role per service (DESIGN.md, "Services and ownership").
--
-- The roles are what transactions run as (`SET LOCAL ROLE brigade_<service>` in the unit of work).
-- They cannot log in, are not superusers and cannot bypass Row-Level Security; they own nothing:
-- tables belong to the migrating role, and each service role gets only the grants its own schema
-- needs. No role is granted anything on another service's schema, so the database itself stops one
-- service from reading another's tables.
--
-- Roles are cluster-wide while this file runs once per database, so creating one that another
-- database of the cluster already created (or is creating right now) is not an error.
DO $$
DECLARE
  svc  text;
  role text;
BEGIN
  FOREACH svc IN ARRAY ARRAY['platform', 'menu', 'ordering', 'delivery', 'payments'] LOOP
    role := 'brigade_' || svc;
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', role);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
    -- The migrating role, which the application connects as, must be able to SET ROLE to it.
    BEGIN
      EXECUTE format('GRANT %I TO %I', role, current_user);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', svc);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', svc, role);
    -- Tables a service's migrations create are readable and writable by its role, and only by it.
    -- Append-only tables (the event store) revoke UPDATE and DELETE again in their own migration.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', svc, role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', svc, role);
  END LOOP;
END
$$;
