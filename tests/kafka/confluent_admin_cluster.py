"""DescribeConfigs, DescribeCluster and DeleteRecords through confluent-kafka's
AdminClient. The topic must exist with records in partition 0. Prints one JSON line."""

import json
import sys

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})


def configs(resource: ConfigResource) -> dict:
    try:
        entries = admin.describe_configs([resource])[resource].result(timeout=20)
    except Exception as error:
        return {"error": error.args[0].name()}
    return {name: [entry.value, entry.source, entry.is_read_only]
            for name, entry in entries.items()}


cluster = admin.describe_cluster().result(timeout=20)


def delete(partition: int, offset: int):
    wanted = TopicPartition(topic, partition, offset)
    try:
        return admin.delete_records([wanted])[wanted].result(timeout=20).low_watermark
    except Exception as error:
        return error.args[0].name()


print(json.dumps({
    "topic": configs(ConfigResource(ResourceType.TOPIC, topic)),
    "missing": configs(ConfigResource(ResourceType.TOPIC, "no-such-topic")),
    "broker": configs(ConfigResource(ResourceType.BROKER, "0")),
    "cluster": {"id": cluster.cluster_id, "controller": cluster.controller.id,
                "nodes": [[node.id, node.host, node.port] for node in cluster.nodes]},
    "delete_to_3": delete(0, 3),
    "delete_past_end": delete(0, 1000),
    "delete_all": delete(1, -1),
}))
