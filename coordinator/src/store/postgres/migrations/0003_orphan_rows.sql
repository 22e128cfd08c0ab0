DELETE FROM group_offsets WHERE topic_id NOT IN (SELECT topic_id FROM topics);
DELETE FROM kafka_sequences WHERE topic_id NOT IN (SELECT topic_id FROM topics);
