//! Topic names that differ only in case or in '.' versus '_' collide (Kafka's metric
//! names cannot tell them apart): the second is refused, on every backend, and topics
//! that collided before the rule existed keep working.

use silt_core::coordinator::{Coordinator, CoordinatorError};

use super::{Backend, topic};

fn collides(topic: &str, existing: &str) -> Result<(), CoordinatorError> {
    Err(CoordinatorError::TopicCollides {
        topic: topic.into(),
        existing: existing.into(),
    })
}

pub(in crate::service) async fn colliding_topic_names_are_refused(backend: Backend) {
    let coordinator = backend.open().await;
    for name in ["orders", "a.b", "x_y"] {
        coordinator.create_topic(topic(name, 1)).await.expect(name);
    }
    let create = |name: &str| {
        let coordinator = std::sync::Arc::clone(&coordinator);
        let config = topic(name, 1);
        async move { coordinator.create_topic(config).await.map(|_| ()) }
    };
    assert_eq!(create("ORDERS").await, collides("ORDERS", "orders"));
    assert_eq!(create("Orders").await, collides("Orders", "orders"));
    assert_eq!(create("a_b").await, collides("a_b", "a.b"));
    assert_eq!(create("A_B").await, collides("A_B", "a.b"));
    assert_eq!(create("X.y").await, collides("X.y", "x_y"));
    assert_eq!(
        create("orders").await,
        Err(CoordinatorError::TopicExists("orders".into()))
    );
    assert_eq!(
        collides("a_b", "a.b").unwrap_err().error_code(),
        "topic_collides"
    );
    create("orders-2").await.expect("'-' is not '_'");
    create("ab").await.expect("no separator is not '.'");
    drop(coordinator);

    let coordinator = backend.open().await;
    let create = |name: &str| {
        let coordinator = std::sync::Arc::clone(&coordinator);
        let config = topic(name, 1);
        async move { coordinator.create_topic(config).await.map(|_| ()) }
    };
    assert_eq!(
        create("ORDERS").await,
        collides("ORDERS", "orders"),
        "after a reopen"
    );
    coordinator.delete_topic("orders").await.expect("delete");
    create("ORDERS").await.expect("the name is free again");
    let names: Vec<String> = coordinator
        .list_topics()
        .await
        .expect("list")
        .into_iter()
        .map(|topic| topic.name)
        .collect();
    assert_eq!(names, ["ORDERS", "a.b", "ab", "orders-2", "x_y"]);
}

/// A database from before the rule, holding (topic_id, name) topics of one partition
/// each.
async fn legacy_database(backend: &Backend, topics: &[(i64, &str)]) {
    match backend {
        Backend::Sqlite(dir) => {
            let mut connection =
                rusqlite::Connection::open(dir.path().join("meta.db")).expect("open");
            crate::store::sqlite::migrate_to(&mut connection, 7).expect("migrate");
            for (topic_id, name) in topics {
                connection
                    .execute(
                        "INSERT INTO topics (topic_id, name, partitions, created_at_ms) VALUES (?1, ?2, 1, 0)",
                        rusqlite::params![topic_id, name],
                    )
                    .expect("topic");
                connection
                    .execute(
                        "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                         VALUES (?1, 0, 0, 0)",
                        [topic_id],
                    )
                    .expect("partition");
            }
        }
        Backend::Postgres(url) => {
            let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            let connection = tokio::spawn(connection);
            crate::store::postgres::migrate_to(&mut client, 3)
                .await
                .expect("migrate");
            for (topic_id, name) in topics {
                client
                    .execute(
                        "INSERT INTO topics (topic_id, name, partitions, created_at_ms) VALUES ($1, $2, 1, 0)",
                        &[topic_id, name],
                    )
                    .await
                    .expect("topic");
                client
                    .execute(
                        "INSERT INTO partitions (topic_id, partition, log_start_offset, high_watermark)
                         VALUES ($1, 0, 0, 0)",
                        &[topic_id],
                    )
                    .await
                    .expect("partition");
            }
            client
                .execute(
                    "SELECT setval(pg_get_serial_sequence('topics', 'topic_id'), 100)",
                    &[],
                )
                .await
                .expect("sequence");
            drop(client);
            let _ = connection.await;
        }
    }
}

pub(in crate::service) async fn existing_colliding_topics_survive_the_migration(backend: Backend) {
    legacy_database(
        &backend,
        &[(1, "Orders"), (2, "a.b"), (3, "orders"), (4, "a_b")],
    )
    .await;
    let coordinator = backend.open().await;
    let names: Vec<String> = coordinator
        .list_topics()
        .await
        .expect("list")
        .into_iter()
        .map(|topic| topic.name)
        .collect();
    assert_eq!(names, ["Orders", "a.b", "a_b", "orders"], "all kept");
    let create = |name: &str| {
        let coordinator = std::sync::Arc::clone(&coordinator);
        let config = topic(name, 1);
        async move { coordinator.create_topic(config).await.map(|_| ()) }
    };
    assert_eq!(create("ORDERS").await, collides("ORDERS", "Orders"));
    assert_eq!(create("A.B").await, collides("A.B", "a.b"));
    // The oldest holds the key; once it is gone the younger one still blocks it.
    coordinator.delete_topic("Orders").await.expect("delete");
    assert_eq!(create("ORDERS").await, collides("ORDERS", "orders"));
    coordinator.delete_topic("orders").await.expect("delete");
    create("ORDERS").await.expect("free");
    drop(coordinator);
    let reopened = backend.open().await;
    assert_eq!(
        reopened.create_topic(topic("a_B", 1)).await.map(|_| ()),
        collides("a_B", "a.b")
    );
}
