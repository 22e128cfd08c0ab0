//! Transactions over HTTP, on the coordinator's transactions (the same machinery as
//! Kafka's, `silt_core::transactions`):
//!
//! - `POST /v1/records`: records for several topics and partitions and, optionally, a
//!   consumer group member's offsets, all or nothing. Without `transaction`, the request
//!   is a transaction of its own (atomic consume-transform-produce in one call): it is
//!   answered once everything is durable, a stale generation refuses it whole with
//!   nothing written, and a retry of a request whose offsets were committed is refused
//!   (`offsets_already_committed`) and writes nothing. With `transaction`, the records
//!   join that open transaction.
//! - `POST /v1/transactions` begins (or takes over) a transactional id;
//!   `POST /v1/transactions/{id}/commit` and `/abort` end its transaction; `GET` lists
//!   and describes them.
//!
//! A transaction's records are visible to `read_committed` readers (the default over
//! HTTP) only once it commits; one that nobody ends is aborted after its timeout.

use crate::auth::Caller;
use crate::auth::http::require;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use silt_core::coordinator::{CoordinatorError, ProducerIdentity};
use silt_core::security::{Operation, ResourceType};
use silt_core::transactions::{
    DEFAULT_TRANSACTION_TIMEOUT_MS, REQUEST_TRANSACTION_TIMEOUT_MS, TopicPartition, TxnOffset,
    TxnRequest, TxnResponse, TxnState,
};
use tracing::{Instrument, info_span, warn};

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::produce::{prepare_routed, route};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/records", post(produce))
        .route("/v1/transactions", post(begin).get(list))
        .route("/v1/transactions/{id}", get(describe))
        .route("/v1/transactions/{id}/commit", post(commit))
        .route("/v1/transactions/{id}/abort", post(abort))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceBody<'a> {
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
    #[serde(default)]
    commit: Option<CommitJson>,
    #[serde(default)]
    transaction: Option<TransactionJson>,
}

/// A consumer group member's offsets (as `POST /v1/groups/{group}/offsets` takes them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitJson {
    group: String,
    member_id: String,
    generation: u64,
    offsets: Vec<OffsetJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetJson {
    topic: String,
    partition: u32,
    offset: u64,
    #[serde(default)]
    metadata: Option<String>,
}

/// The open transaction a request's records join.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionJson {
    transactional_id: String,
    producer_id: i64,
    epoch: i32,
}

fn producer_of(json: &TransactionJson) -> ProducerIdentity {
    ProducerIdentity {
        producer_id: json.producer_id,
        epoch: json.epoch,
    }
}

/// WRITE on every topic a request writes, READ on its group and the topics of the
/// offsets it commits, and WRITE on the transactional id it writes in.
fn authorize_produce<'t>(
    state: &AppState,
    caller: &Caller,
    topics: impl Iterator<Item = &'t String>,
    parsed: &ProduceBody<'_>,
) -> Result<(), ApiError> {
    let security = &state.security;
    for topic in topics {
        require(
            security,
            caller,
            Operation::Write,
            ResourceType::Topic,
            topic,
        )?;
    }
    if let Some(commit) = &parsed.commit {
        require(
            security,
            caller,
            Operation::Read,
            ResourceType::Group,
            &commit.group,
        )?;
        for offset in &commit.offsets {
            require(
                security,
                caller,
                Operation::Read,
                ResourceType::Topic,
                &offset.topic,
            )?;
        }
    }
    if let Some(open) = &parsed.transaction {
        require(
            security,
            caller,
            Operation::Write,
            ResourceType::TransactionalId,
            &open.transactional_id,
        )?;
    }
    Ok(())
}

async fn txn(state: &AppState, request: TxnRequest) -> Result<TxnResponse, ApiError> {
    Ok(state.coordinator.transaction(request).await?)
}

/// Checks that `commit` comes from a member of the group's current generation that owns
/// each partition it commits: a stale member's request writes nothing.
async fn check_member(state: &AppState, commit: &CommitJson) -> Result<(), ApiError> {
    let assignment = state
        .coordinator
        .heartbeat(&commit.group, &commit.member_id)
        .await?;
    if commit.generation < assignment.generation {
        return Err(CoordinatorError::StaleGeneration {
            given: commit.generation,
            current: assignment.generation,
        }
        .into());
    }
    if commit.generation > assignment.generation {
        return Err(CoordinatorError::IllegalGeneration {
            given: commit.generation,
            current: assignment.generation,
        }
        .into());
    }
    for offset in &commit.offsets {
        let owned = assignment
            .assignments
            .iter()
            .any(|owned| owned.topic == offset.topic && owned.partition == offset.partition);
        if !owned {
            return Err(CoordinatorError::PartitionNotOwned {
                topic: offset.topic.clone(),
                partition: offset.partition,
            }
            .into());
        }
    }
    Ok(())
}

fn txn_offsets(commit: &CommitJson) -> Vec<TxnOffset> {
    commit
        .offsets
        .iter()
        .map(|offset| TxnOffset {
            topic: offset.topic.clone(),
            partition: offset.partition,
            offset: offset.offset,
            metadata: offset.metadata.clone().unwrap_or_default(),
            leader_epoch: None,
        })
        .collect()
}

/// `POST /v1/records`
async fn produce(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let span = info_span!("produce_transaction", records = tracing::field::Empty);
    async move {
        let parsed: ProduceBody<'_> = serde_json::from_slice(&body.0).map_err(|error| {
            ApiError::bad_request("invalid_json", format!("invalid records: {error}"))
        })?;
        state.batcher.admit(body.0.len())?;
        let routed = route(&parsed.records)?;
        authorize_produce(&state, &caller, routed.iter().map(|(topic, _)| topic), &parsed)?;
        tracing::Span::current().record("records", parsed.records.len());
        let now = silt_core::now_ms();
        let mut prepared = Vec::with_capacity(routed.len());
        let mut partitions = Vec::new();
        for (name, records) in &routed {
            let topic = state.coordinator.get_topic(name).await?;
            let produce = prepare_routed(
                &topic,
                records,
                state.config.max_record_bytes,
                &state.sticky,
                now,
            )?;
            for record in &produce.records {
                let partition = TopicPartition {
                    topic: name.clone(),
                    partition: record.partition,
                };
                if !partitions.contains(&partition) {
                    partitions.push(partition);
                }
            }
            let indices: Vec<usize> = records.iter().map(|(index, _)| *index).collect();
            prepared.push((topic, produce, indices));
        }
        let total = parsed.records.len();
        match &parsed.transaction {
            Some(open) => {
                if parsed.commit.is_some() {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "a request inside a transaction commits its offsets when the transaction commits: give them to POST /v1/transactions/{id}/commit",
                    ));
                }
                let producer = producer_of(open);
                txn(
                    &state,
                    TxnRequest::AddPartitions {
                        transactional_id: open.transactional_id.clone(),
                        producer,
                        partitions,
                    },
                )
                .await?;
                let offsets = write(&state, prepared, producer, total).await?;
                Ok(Json(json!({ "offsets": offsets })))
            }
            None => {
                if let Some(commit) = &parsed.commit {
                    check_member(&state, commit).await?;
                }
                let id = state.request_transactions.take().await;
                let result = one_shot(&state, &id, prepared, partitions, &parsed.commit, total).await;
                state.request_transactions.give_back(id).await;
                let offsets = result?;
                Ok(Json(json!({
                    "offsets": offsets,
                    "committed": parsed.commit.as_ref().map(|commit| txn_offsets(commit).len()).unwrap_or(0),
                })))
            }
        }
    }
    .instrument(span)
    .await
}

/// A request that is a transaction of its own: begins it, adds its partitions and
/// offsets, writes its records and commits, or aborts on any failure.
async fn one_shot(
    state: &AppState,
    id: &str,
    prepared: Vec<(
        silt_core::coordinator::Topic,
        crate::produce::PreparedProduce,
        Vec<usize>,
    )>,
    partitions: Vec<TopicPartition>,
    commit: &Option<CommitJson>,
    total: usize,
) -> Result<Vec<Value>, ApiError> {
    // Begun with its partitions and offsets in one step: a refusal (a stale generation,
    // offsets committed already) leaves nothing behind.
    let begin = TxnRequest::Begin {
        transactional_id: id.to_owned(),
        timeout_ms: REQUEST_TRANSACTION_TIMEOUT_MS,
        partitions,
        group: commit.as_ref().map(|commit| commit.group.clone()),
        offsets: commit.as_ref().map(txn_offsets).unwrap_or_default(),
        generation: commit.as_ref().map(|commit| commit.generation),
    };
    let producer = match txn(state, begin).await? {
        TxnResponse::Producer { producer } => producer,
        other => {
            return Err(ApiError::from(CoordinatorError::Internal(format!(
                "Begin answered {other:?}"
            ))));
        }
    };
    let work = async {
        let offsets = write(state, prepared, producer, total).await?;
        txn(
            state,
            TxnRequest::End {
                transactional_id: id.to_owned(),
                producer,
                commit: true,
            },
        )
        .await?;
        Ok::<_, ApiError>(offsets)
    };
    match work.await {
        Ok(offsets) => Ok(offsets),
        Err(error) => {
            let abort = TxnRequest::End {
                transactional_id: id.to_owned(),
                producer,
                commit: false,
            };
            if let Err(failed) = txn(state, abort).await {
                // Its timeout aborts it then.
                warn!(transactional_id = id, error = %failed.message, "aborting a request's transaction failed");
            }
            Err(error)
        }
    }
}

/// Writes each topic's records as the transaction's and waits until all are durable;
/// answers each record's offset, in request order.
async fn write(
    state: &AppState,
    prepared: Vec<(
        silt_core::coordinator::Topic,
        crate::produce::PreparedProduce,
        Vec<usize>,
    )>,
    producer: ProducerIdentity,
    total: usize,
) -> Result<Vec<Value>, ApiError> {
    let mut pending = Vec::with_capacity(prepared.len());
    for (topic, mut produce, indices) in prepared {
        produce.txn = Some(producer);
        let submitted = state.batcher.submit(&topic, produce).await?;
        pending.push((topic.name, indices, submitted));
    }
    let durable = join_all(
        pending
            .into_iter()
            .map(|(topic, indices, submitted)| async move {
                (topic, indices, submitted.durable().await)
            }),
    )
    .await;
    let mut offsets = vec![Value::Null; total];
    for (topic, indices, result) in durable {
        for (index, (partition, offset)) in indices.into_iter().zip(result?) {
            if let Some(slot) = offsets.get_mut(index) {
                *slot = json!({"topic": topic, "partition": partition, "offset": offset});
            }
        }
    }
    Ok(offsets)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BeginBody {
    transactional_id: String,
    #[serde(default)]
    timeout_ms: Option<i32>,
}

/// `POST /v1/transactions`: a producer for the transactional id; a newer one fences the
/// older and aborts the transaction it left open.
async fn begin(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: BeginBody = body.json("transaction")?;
    require(
        &state.security,
        &caller,
        Operation::Write,
        ResourceType::TransactionalId,
        &body.transactional_id,
    )?;
    if body.transactional_id.starts_with("__silt") {
        return Err(ApiError::bad_request(
            "invalid_argument",
            "transactional ids starting with __silt are Silt's own",
        ));
    }
    let request = TxnRequest::InitProducer {
        transactional_id: body.transactional_id.clone(),
        timeout_ms: body.timeout_ms.unwrap_or(DEFAULT_TRANSACTION_TIMEOUT_MS),
    };
    match txn(&state, request).await? {
        TxnResponse::Producer { producer } => Ok(Json(json!({
            "transactional_id": body.transactional_id,
            "producer_id": producer.producer_id,
            "epoch": producer.epoch,
        }))),
        other => Err(CoordinatorError::Internal(format!("InitProducer answered {other:?}")).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    producer_id: i64,
    epoch: i32,
    #[serde(default)]
    commit: Option<CommitJson>,
}

/// `POST /v1/transactions/{id}/commit`: commits the open transaction, with a consumer
/// group member's offsets if given (checked against the group's generation).
async fn commit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: EndBody = body.json("commit")?;
    let producer = ProducerIdentity {
        producer_id: body.producer_id,
        epoch: body.epoch,
    };
    if let Some(commit) = &body.commit {
        check_member(&state, commit).await?;
        let offsets = TxnRequest::CommitOffsets {
            transactional_id: id.clone(),
            producer,
            group: commit.group.clone(),
            offsets: txn_offsets(commit),
            only_forward: false,
            generation: Some(commit.generation),
        };
        if let Err(error) = txn(&state, offsets).await {
            // A retry of a commit that happened: the commit below answers as it did.
            if error.error_code != "invalid_txn_state" {
                return Err(error);
            }
        }
    }
    end(&state, id, producer, true).await
}

/// `POST /v1/transactions/{id}/abort`
async fn abort(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body: EndBody = body.json("abort")?;
    if body.commit.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "an abort commits no offsets",
        ));
    }
    let producer = ProducerIdentity {
        producer_id: body.producer_id,
        epoch: body.epoch,
    };
    end(&state, id, producer, false).await
}

async fn end(
    state: &AppState,
    id: String,
    producer: ProducerIdentity,
    commit: bool,
) -> Result<Json<Value>, ApiError> {
    let request = TxnRequest::End {
        transactional_id: id.clone(),
        producer,
        commit,
    };
    txn(state, request).await?;
    Ok(Json(json!({
        "transactional_id": id,
        "state": if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort },
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Only transactional ids in this state (`ongoing`, `empty`, `complete_commit`,
    /// `complete_abort`).
    #[serde(default)]
    state: Option<TxnState>,
}

/// `GET /v1/transactions`
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(params): Params<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let request = TxnRequest::List {
        states: params.state.into_iter().collect(),
        producer_ids: Vec::new(),
    };
    match txn(&state, request).await? {
        TxnResponse::Described { mut transactions } => {
            transactions.retain(|txn| {
                state.security.authorize(
                    &caller,
                    Operation::Describe,
                    ResourceType::TransactionalId,
                    &txn.transactional_id,
                )
            });
            Ok(Json(json!({ "transactions": transactions })))
        }
        other => Err(CoordinatorError::Internal(format!("List answered {other:?}")).into()),
    }
}

/// `GET /v1/transactions/{id}`
async fn describe(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let request = TxnRequest::Describe {
        transactional_ids: vec![id.clone()],
    };
    match txn(&state, request).await? {
        TxnResponse::Described { transactions } => match transactions.into_iter().next() {
            Some(described) => Ok(Json(json!(described))),
            None => Err(CoordinatorError::UnknownTransactionalId(id).into()),
        },
        other => Err(CoordinatorError::Internal(format!("Describe answered {other:?}")).into()),
    }
}
