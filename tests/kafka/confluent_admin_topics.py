"""CreateTopics and Metadata edges through confluent-kafka's AdminClient. Prints one
JSON line: the error name (or "ok") of each creation, the partition count of the topic
created from an explicit assignment, and the topic ids of a topic before and after it
was deleted and created again."""

import json
import sys
import time

from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})


def create(topic: NewTopic) -> str:
    try:
        admin.create_topics([topic], operation_timeout=10)[topic.topic].result(timeout=20)
        return "ok"
    except Exception as error:  # the KafkaException carrying the broker's error
        return error.args[0].name()


def topic_id(name: str) -> str:
    described = admin.describe_topics(TopicCollection([name]))[name].result(timeout=20)
    return str(described.topic_id)


answer = {
    "unknown_config": create(NewTopic("c1", 1, config={"retention.msx": "1"})),
    "bad_number": create(NewTopic("c2", 1, config={"retention.ms": "soon"})),
    "bad_policy": create(NewTopic("c3", 1, config={"cleanup.policy": "compress"})),
    "known_config": create(NewTopic("c4", 2, config={"min.insync.replicas": "2",
                                                       "retention.ms": "600000"})),
    "assigned": create(NewTopic("c5", 3, replica_assignment=[[0], [0], [0]])),
    "assigned_elsewhere": create(NewTopic("c6", 2, replica_assignment=[[0], [7]])),
    "invalid_name": create(NewTopic("no spaces!", 1)),
}
metadata = admin.list_topics(timeout=20)
answer["assigned_partitions"] = len(metadata.topics["c5"].partitions)
answer["created"] = sorted(name for name in metadata.topics if name.startswith("c"))
first = topic_id("c4")
admin.delete_topics(["c4"], operation_timeout=10)["c4"].result(timeout=20)
time.sleep(0.5)
create(NewTopic("c4", 2))
answer["topic_ids"] = [first, topic_id("c4")]
print(json.dumps(answer))
