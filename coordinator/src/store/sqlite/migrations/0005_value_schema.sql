-- Topics may declare a value schema for typed columns.
ALTER TABLE topics ADD COLUMN value_schema TEXT;
