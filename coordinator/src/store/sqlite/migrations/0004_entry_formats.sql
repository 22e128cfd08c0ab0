-- Compacted files: index entries and objects say what they point into.
ALTER TABLE index_entries ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
ALTER TABLE segments ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
