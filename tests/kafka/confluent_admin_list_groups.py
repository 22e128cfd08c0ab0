"""ListGroups' filters and DescribeGroups' instance ids through confluent-kafka's
AdminClient: a stable group whose member is static (`group.instance.id`) and a group
with only committed offsets (empty), listed by state (v4's states filter), by type (v5's
types filter: every group is a classic one) and by both; the static member described
with its instance id. Prints one JSON line. With `describe-only GROUP`, it only
describes that group's members (instance id, member id)."""

import json
import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupState, ConsumerGroupType,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
if sys.argv[2:3] == ["describe-only"]:
    # Only describe group argv[3]: each member's instance id and member id.
    group = sys.argv[3]
    described = admin.describe_consumer_groups([group])[group].result(timeout=20)
    print(json.dumps({"described": [[member.group_instance_id, member.member_id]
                                    for member in described.members]}))
    sys.exit(0)
admin.create_topics([NewTopic("listed", 2)], operation_timeout=10)["listed"].result(timeout=20)


def consumer(group: str, instance=None) -> Consumer:
    config = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000}
    if instance is not None:
        config["group.instance.id"] = instance
    return Consumer(config)


# "parked": offsets committed outside any generation, no member.
parked = consumer("parked")
parked.commit(offsets=[TopicPartition("listed", 0, 1)], asynchronous=False)
parked.close()
# "working": one static member.
working = consumer("working", "worker-1")
working.subscribe(["listed"])
deadline = time.time() + 30
while not working.assignment() and time.time() < deadline:
    working.poll(0.2)


def listed(**filters):
    try:
        result = admin.list_consumer_groups(request_timeout=20, **filters).result(timeout=20)
    except Exception as error:  # the filter is refused: name the error
        return str(error)
    if result.errors:
        return [str(error) for error in result.errors]
    return sorted([group.group_id, group.state.name, group.type.name if group.type else None]
                  for group in result.valid)


answer = {
    "all": listed(),
    "stable": listed(states={ConsumerGroupState.STABLE}),
    "empty": listed(states={ConsumerGroupState.EMPTY}),
    "stable_or_empty": listed(states={ConsumerGroupState.STABLE, ConsumerGroupState.EMPTY}),
    "preparing": listed(states={ConsumerGroupState.PREPARING_REBALANCING}),
    "classic": listed(types={ConsumerGroupType.CLASSIC}),
    "consumer": listed(types={ConsumerGroupType.CONSUMER}),
    "classic_and_stable": listed(types={ConsumerGroupType.CLASSIC},
                                 states={ConsumerGroupState.STABLE}),
}
described = admin.describe_consumer_groups(["working"])["working"].result(timeout=20)
answer["described"] = [[member.group_instance_id, member.member_id.startswith("worker-1-")]
                       for member in described.members]
working.close()
print(json.dumps(answer))
