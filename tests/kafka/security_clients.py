"""Authentication and ACLs with the Kafka clients people use, in clear text or over TLS. As the super user `admin`,
confluent-kafka's AdminClient (SCRAM-SHA-512) creates ACLs for `alice`; then alice
produces and consumes with librdkafka (SCRAM-SHA-512) and kafka-python (PLAIN), is
refused a topic she may not write, does not see a topic she may not describe, and wrong
passwords fail with each client's authentication error. Prints one JSON line."""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

bootstrap, admin_password, alice_password = sys.argv[1], sys.argv[2], sys.argv[3]
# With a CA file: SASL_SSL, the server's certificate checked against it.
ca_file = sys.argv[4] if len(sys.argv) > 4 else None
protocol = "SASL_SSL" if ca_file else "SASL_PLAINTEXT"
out = {}


def scram(user, password, **extra):
    config = {
        "bootstrap.servers": bootstrap,
        "security.protocol": protocol,
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }
    if ca_file:
        config["ssl.ca.location"] = ca_file
    config.update(extra)
    return config


admin = AdminClient(scram("admin", admin_password))
acls = [
    AclBinding(ResourceType.TOPIC, "orders", ResourcePatternType.LITERAL, "User:alice", "*",
               operation, AclPermissionType.ALLOW)
    for operation in (AclOperation.WRITE, AclOperation.READ)
] + [
    AclBinding(ResourceType.GROUP, "alice-", ResourcePatternType.PREFIXED, "User:alice", "*",
               AclOperation.READ, AclPermissionType.ALLOW),
]
for future in admin.create_acls(acls).values():
    future.result(timeout=30)
described = admin.describe_acls(
    AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:alice", None,
                     AclOperation.ANY, AclPermissionType.ANY)
).result(timeout=30)
out["described"] = sorted(
    f"{acl.restype.name}:{acl.name}:{acl.resource_pattern_type.name}:{acl.operation.name}"
    for acl in described
)

# alice writes where she may, and is refused where she may not.
reports = []
producer = Producer(scram("alice", alice_password, **{"message.timeout.ms": 20000}))
for n in range(5):
    producer.produce("orders", key=f"k{n}".encode(), value=f"v{n}".encode(),
                     on_delivery=lambda error, message: reports.append(error))
producer.produce("secret", value=b"must not be stored",
                 on_delivery=lambda error, message: reports.append(error))
producer.flush(30)
out["orders_delivered"] = sum(1 for error in reports if error is None)
out["secret_error"] = [error.name() for error in reports if error is not None]
visible = producer.list_topics(timeout=10).topics
out["alice_sees"] = sorted(name for name in visible if not name.startswith("__"))

# alice consumes in her group.
consumer = Consumer(scram("alice", alice_password, **{
    "group.id": "alice-readers",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}))
consumer.subscribe(["orders"])
values = []
deadline = time.time() + 30
while "v4" not in values and time.time() < deadline:
    message = consumer.poll(1.0)
    if message is not None and message.error() is None:
        values.append(message.value().decode())
consumer.commit(asynchronous=False)
consumer.close()
out["alice_read"] = sorted(values)

# A group she has no READ on.
stranger = Consumer(scram("alice", alice_password, **{
    "group.id": "bobs-group",
    "auto.offset.reset": "earliest",
}))
stranger.subscribe(["orders"])
group_error = None
deadline = time.time() + 20
while group_error is None and time.time() < deadline:
    message = stranger.poll(1.0)
    if message is not None and message.error() is not None:
        group_error = message.error().name()
stranger.close()
out["foreign_group_error"] = group_error

# A wrong password: librdkafka reports an authentication error.
errors = []
wrong = Producer(scram("alice", "not-her-password", **{
    "error_cb": lambda error: errors.append(error.name()),
}))
try:
    wrong.list_topics(timeout=8)
    out["wrong_password_metadata"] = "answered"
except KafkaException as error:
    out["wrong_password_metadata"] = error.args[0].name()
wrong.poll(1)
out["wrong_password_errors"] = sorted(set(errors))

# kafka-python with SASL PLAIN.
from kafka import KafkaProducer  # noqa: E402
from kafka.errors import KafkaError  # noqa: E402


def plain(password):
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        security_protocol=protocol,
        ssl_cafile=ca_file,
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        sasl_plain_password=password,
        request_timeout_ms=15000,
        api_version_auto_timeout_ms=15000,
    )


python_producer = plain(alice_password)
offsets = [python_producer.send("orders", b"from-kafka-python").get(timeout=30).offset
           for _ in range(3)]
python_producer.close()
out["kafka_python_offsets"] = offsets
try:
    refused = plain("not-her-password")
    refused.send("orders", b"must not be stored").get(timeout=15)
    out["kafka_python_wrong_password"] = "sent"
except KafkaError as error:
    out["kafka_python_wrong_password"] = type(error).__name__
except Exception as error:  # kafka-python raises its own classes, checked by name
    out["kafka_python_wrong_password"] = type(error).__name__

# DeleteAcls: removing the group ACL answers it, and leaves the topic ACLs.
deleted = admin.delete_acls([
    AclBindingFilter(ResourceType.GROUP, None, ResourcePatternType.ANY, "User:alice", None,
                     AclOperation.ANY, AclPermissionType.ANY)
])
out["deleted"] = sorted(
    f"{acl.restype.name}:{acl.name}:{acl.operation.name}"
    for future in deleted.values() for acl in future.result(timeout=30)
)
left = admin.describe_acls(
    AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:alice", None,
                     AclOperation.ANY, AclPermissionType.ANY)
).result(timeout=30)
out["left_after_delete"] = len(left)

print(json.dumps(out))
