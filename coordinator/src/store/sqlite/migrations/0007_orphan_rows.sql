-- Rows that a deleted topic left behind (before deleting a topic deleted them too):
-- a restore may give a later topic the same id, and they must not attach to it.
DELETE FROM group_offsets WHERE topic_id NOT IN (SELECT topic_id FROM topics);
DELETE FROM kafka_sequences WHERE topic_id NOT IN (SELECT topic_id FROM topics);
