//! The write path. Produce requests are appended to one open batch; the batch is sealed
//! as soon as no flush is in progress (and `min_flush_interval_ms` has passed since the
//! previous one began), as group commit does, or when `linger_ms` has passed since its
//! first record, or when it holds `max_batch_bytes`. A lone producer so waits for one
//! write and one commit, not for the linger; a busy gateway gathers what arrives during
//! a flush into the next one.
//! Each sealed batch becomes **one** segment object, whatever the number of partitions:
//! it is encoded, written with `PutMode::Create`, put in the chunk cache, and then
//! committed to the coordinator. Only then are its producers answered with offsets.
//! Writes of several batches may be in flight at once; commits happen in seal order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use silt_core::Coordinator;
use silt_core::coordinator::{
    ChunkCommit, ChunkOutcome, CoordinatorError, KafkaBatchStamp, ProducerIdentity, ProducerStamp,
    SegmentCommit, Topic,
};
use silt_core::keys::SegmentId;
use silt_core::now_ms;
use silt_core::segment::{
    CHUNK_VERSION, ChunkBuilder, EncodedSegment, KAFKA_CHUNK_VERSION, encode_segment,
};
use silt_reader::ChunkCache;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{Instrument, debug, info_span, warn};

use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::produce::PreparedProduce;

const WRITE_ATTEMPTS: u32 = 4;
const COMMIT_ATTEMPTS: u32 = 4;

/// Offsets for a produce request's records, in request order: (partition, offset).
pub type ProduceOffsets = Vec<(u32, u64)>;

/// Why a flush failed; every waiting producer gets it as an HTTP error.
#[derive(Debug, Clone)]
struct FlushFailure {
    status: StatusCode,
    error_code: &'static str,
    message: String,
}

impl From<FlushFailure> for ApiError {
    fn from(failure: FlushFailure) -> Self {
        let error = ApiError::new(failure.status, failure.error_code, failure.message);
        if failure.status == StatusCode::SERVICE_UNAVAILABLE {
            error.retry_after(1)
        } else {
            error
        }
    }
}

struct Submission {
    topic_id: i64,
    topic: Arc<str>,
    produce: PreparedProduce,
    reply: oneshot::Sender<Result<ProduceOffsets, FlushFailure>>,
}

struct Waiter {
    /// (chunk index, position in chunk, partition) per record, in request order.
    positions: Vec<(u32, u32, u32)>,
    bytes: usize,
    /// What the request was charged against the buffer budget.
    charged: usize,
    reply: oneshot::Sender<Result<ProduceOffsets, FlushFailure>>,
}

/// A chunk being filled, with what its commit needs besides the records.
struct PendingChunk {
    topic_id: i64,
    /// Stamped chunks hold the records of one idempotent request only.
    producer: Option<ProducerStamp>,
    /// Stamped chunks hold one Kafka record batch only.
    kafka: Option<KafkaBatchStamp>,
    /// Chunks of an HTTP transaction hold the records of one request only.
    txn: Option<ProducerIdentity>,
    request: u32,
    builder: ChunkBuilder,
}

/// A chunk's topic id, partition and format version (Silt records or Kafka batches).
type ChunkKey = (i64, u32, u8);

struct OpenBatch {
    /// Chunk of each (topic, partition, version) for records of non-idempotent requests.
    chunk_of: HashMap<ChunkKey, usize>,
    chunks: Vec<PendingChunk>,
    waiters: Vec<Waiter>,
    /// Idempotent requests appended so far; numbers their chunks.
    stamped_requests: u32,
    bytes: usize,
    opened_at: Instant,
    deadline: Instant,
}

impl OpenBatch {
    fn new(linger: Duration) -> Self {
        OpenBatch {
            chunk_of: HashMap::new(),
            chunks: Vec::new(),
            waiters: Vec::new(),
            stamped_requests: 0,
            bytes: 0,
            opened_at: Instant::now(),
            deadline: Instant::now() + linger,
        }
    }

    /// Appends a request's records. `sizes` holds each partition's chunk size in recent
    /// batches, so that a new chunk starts with room for about as much.
    fn append(&mut self, submission: Submission, sizes: &HashMap<ChunkKey, usize>) {
        let Submission {
            topic_id,
            topic,
            produce,
            reply,
        } = submission;
        // An idempotent request gets chunks of its own, so the coordinator can commit
        // or refuse exactly its records.
        let mut own_chunks: HashMap<(u32, u8), usize> = HashMap::new();
        let request = self.stamped_requests;
        let own = produce.producer.is_some() || produce.kafka.is_some() || produce.txn.is_some();
        if own {
            self.stamped_requests += 1;
        }
        // An own chunk holds exactly this request's bytes of its partition: room for
        // them from the start, so the chunk never grows (each growth is a copy).
        let mut own_bytes: HashMap<(u32, u8), usize> = HashMap::new();
        if own {
            for record in &produce.records {
                *own_bytes
                    .entry((record.partition, CHUNK_VERSION))
                    .or_default() += record.end - record.start;
            }
            for kept in &produce.batches {
                *own_bytes
                    .entry((kept.partition, KAFKA_CHUNK_VERSION))
                    .or_default() += kept.raw.len();
            }
        }
        let mut positions = Vec::with_capacity(produce.records.len());
        // The chunk of `partition` in `version` that this request's records join.
        let mut chunk_for = |batch: &mut OpenBatch, partition: u32, version: u8| -> usize {
            let key = (topic_id, partition, version);
            let chunks = &mut batch.chunks;
            let new_chunk = || {
                let capacity = match own_bytes.get(&(partition, version)) {
                    Some(&bytes) => bytes,
                    None => sizes.get(&key).copied().unwrap_or(0),
                };
                let builder = if version == KAFKA_CHUNK_VERSION {
                    ChunkBuilder::kafka(&*topic, partition, capacity)
                } else {
                    ChunkBuilder::with_capacity(&*topic, partition, capacity)
                };
                chunks.push(PendingChunk {
                    topic_id,
                    producer: produce.producer,
                    kafka: produce.kafka,
                    txn: produce.txn,
                    request,
                    builder,
                });
                chunks.len() - 1
            };
            if own {
                *own_chunks
                    .entry((partition, version))
                    .or_insert_with(new_chunk)
            } else {
                *batch.chunk_of.entry(key).or_insert_with(new_chunk)
            }
        };
        for record in &produce.records {
            let chunk_index = chunk_for(self, record.partition, CHUNK_VERSION);
            let chunk = &mut self.chunks[chunk_index].builder;
            positions.push((chunk_index as u32, chunk.record_count, record.partition));
            chunk.push_encoded(&produce.data[record.start..record.end], record.timestamp);
        }
        for kept in &produce.batches {
            let chunk_index = chunk_for(self, kept.partition, KAFKA_CHUNK_VERSION);
            let chunk = &mut self.chunks[chunk_index].builder;
            positions.extend(
                (0..kept.record_count)
                    .map(|i| (chunk_index as u32, chunk.record_count + i, kept.partition)),
            );
            chunk.push_kafka_batch(
                &kept.raw,
                kept.record_count,
                kept.min_timestamp,
                kept.max_timestamp,
            );
        }
        let bytes = produce.bytes();
        self.bytes += produce.batch_bytes();
        self.waiters.push(Waiter {
            positions,
            bytes,
            charged: produce.cost(),
            reply,
        });
    }
}

/// The producer-facing side of the batcher, shared by request handlers.
#[derive(Clone)]
pub struct BatcherHandle {
    submissions: mpsc::Sender<Submission>,
    metrics: Arc<Metrics>,
    max_buffered_bytes: usize,
}

impl BatcherHandle {
    /// Refuses a request of `body_bytes` before it is parsed when the buffer could not
    /// take it: parsing costs memory too, so backpressure applies before it is spent.
    pub fn admit(&self, body_bytes: usize) -> Result<(), ApiError> {
        let before = self.metrics.buffered_bytes.load(Ordering::Acquire);
        if before > 0 && before + body_bytes as u64 > self.max_buffered_bytes as u64 {
            return Err(self.backpressure(before));
        }
        Ok(())
    }

    fn backpressure(&self, before: u64) -> ApiError {
        Metrics::add(&self.metrics.produce_rejected_backpressure, 1);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "backpressure",
            format!(
                "the gateway holds {before} unacknowledged bytes (limit {}); retry later",
                self.max_buffered_bytes
            ),
        )
        .retry_after(1)
    }
}

impl BatcherHandle {
    /// Hands a validated request to the batcher and waits until its records are durable.
    pub async fn produce(
        &self,
        topic: &Topic,
        produce: PreparedProduce,
    ) -> Result<ProduceOffsets, ApiError> {
        self.submit(topic, produce).await?.durable().await
    }

    /// Hands a validated request to the batcher and returns once it is in the open
    /// batch: requests submitted one after the other land in the log in that order.
    /// Await [`PendingProduce::durable`] for the offsets.
    pub async fn submit(
        &self,
        topic: &Topic,
        produce: PreparedProduce,
    ) -> Result<PendingProduce, ApiError> {
        let bytes = produce.cost() as u64;
        let before = self
            .metrics
            .buffered_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        // One request larger than the bound still gets through when nothing else waits.
        if before > 0 && before + bytes > self.max_buffered_bytes as u64 {
            self.metrics
                .buffered_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            return Err(self.backpressure(before));
        }
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            topic_id: topic.topic_id,
            topic: Arc::from(topic.name.as_str()),
            produce,
            reply,
        };
        if self.submissions.send(submission).await.is_err() {
            self.metrics
                .buffered_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            return Err(shutting_down());
        }
        Ok(PendingProduce { answer })
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the gateway is shutting down",
    )
    .retry_after(1)
}

/// A request in the batcher, waiting to be durable.
pub struct PendingProduce {
    answer: oneshot::Receiver<Result<ProduceOffsets, FlushFailure>>,
}

impl PendingProduce {
    /// The request's offsets once its segment is written and committed.
    pub async fn durable(self) -> Result<ProduceOffsets, ApiError> {
        match self.answer.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(shutting_down()),
        }
    }
}

/// Everything a flush needs.
struct Flusher {
    store: Arc<dyn ObjectStore>,
    coordinator: Arc<dyn Coordinator>,
    cache: ChunkCache,
    metrics: Arc<Metrics>,
    config: GatewayConfig,
}

pub struct Batcher;

/// Batches sealed and not yet answered, shared by the batching and flushing tasks.
#[derive(Default)]
struct FlushGate {
    in_flight: AtomicUsize,
    done: Notify,
}

impl FlushGate {
    fn sealed(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.done.notify_one();
    }

    /// Returns once no batch is being flushed and `not_before` has passed. Only the
    /// batching task seals batches, so once idle the gate stays idle until it does.
    async fn idle_after(&self, not_before: Instant) {
        while self.in_flight.load(Ordering::Acquire) > 0 {
            self.done.notified().await;
        }
        sleep_until(not_before).await;
    }
}

impl Batcher {
    /// Starts the batching and flushing tasks. They stop once every handle is dropped
    /// and the last batch has been flushed; await the returned task for that.
    pub fn spawn(
        config: GatewayConfig,
        store: Arc<dyn ObjectStore>,
        coordinator: Arc<dyn Coordinator>,
        cache: ChunkCache,
        metrics: Arc<Metrics>,
    ) -> (BatcherHandle, JoinHandle<()>) {
        let (submissions, submission_rx) = mpsc::channel(1024);
        let (sealed_tx, sealed_rx) = mpsc::channel(config.max_inflight_flushes.max(1));
        let handle = BatcherHandle {
            submissions,
            metrics: Arc::clone(&metrics),
            max_buffered_bytes: config.max_buffered_bytes,
        };
        let flusher = Arc::new(Flusher {
            store,
            coordinator,
            cache,
            metrics,
            config: config.clone(),
        });
        let gate = Arc::new(FlushGate::default());
        let batching = tokio::spawn(run_batching(
            config.clone(),
            submission_rx,
            sealed_tx,
            Arc::clone(&gate),
        ));
        let flushing = tokio::spawn(run_flushing(flusher, sealed_rx, gate));
        let task = tokio::spawn(async move {
            let _ = batching.await;
            let _ = flushing.await;
        });
        (handle, task)
    }
}

/// Each partition's chunk size in the last batch that had one, a little more, so that
/// chunk builders rarely grow (each growth copies the chunk so far).
#[derive(Default)]
struct ChunkSizes(HashMap<ChunkKey, usize>);

impl ChunkSizes {
    /// Partitions remembered at most; beyond, the sizes are forgotten and learnt again.
    const MAX_PARTITIONS: usize = 100_000;

    fn learn(&mut self, batch: &OpenBatch, max_batch_bytes: usize) {
        if self.0.len() + batch.chunk_of.len() > Self::MAX_PARTITIONS {
            self.0.clear();
        }
        for (&key, &index) in &batch.chunk_of {
            if let Some(chunk) = batch.chunks.get(index) {
                let len = chunk.builder.payload.len();
                self.0.insert(key, (len + len / 8).min(max_batch_bytes));
            }
        }
    }
}

async fn run_batching(
    config: GatewayConfig,
    mut submissions: mpsc::Receiver<Submission>,
    sealed: mpsc::Sender<OpenBatch>,
    gate: Arc<FlushGate>,
) {
    let linger = Duration::from_millis(config.linger_ms);
    let floor = Duration::from_millis(config.min_flush_interval_ms);
    let adaptive = floor < linger;
    let mut last_seal = Instant::now() - floor;
    let mut open: Option<OpenBatch> = None;
    let mut sizes = ChunkSizes::default();
    loop {
        let next = match &open {
            Some(batch) => {
                // The floor bounds PUTs per second for a trickle of small batches; a
                // batch of an eighth of `max_batch_bytes` or more is no trickle, and
                // its PUTs are bounded per byte (at most 8 per `max_batch_bytes`).
                let not_before = if batch.bytes >= config.max_batch_bytes / 8 {
                    last_seal
                } else {
                    last_seal + floor
                };
                tokio::select! {
                    // Requests already waiting join the batch before it is sealed.
                    biased;
                    next = submissions.recv() => next,
                    () = gate.idle_after(not_before), if adaptive => None,
                    () = sleep_until(batch.deadline) => None,
                }
            }
            None => match submissions.recv().await {
                Some(submission) => Some(submission),
                None => break,
            },
        };
        let Some(submission) = next else {
            // The linger passed, or the flusher is idle: seal.
            if let Some(batch) = open.take() {
                sizes.learn(&batch, config.max_batch_bytes);
                gate.sealed();
                last_seal = Instant::now();
                if sealed.send(batch).await.is_err() {
                    return;
                }
            }
            continue;
        };
        let batch = open.get_or_insert_with(|| OpenBatch::new(linger));
        batch.append(submission, &sizes.0);
        if batch.bytes >= config.max_batch_bytes
            && let Some(batch) = open.take()
        {
            sizes.learn(&batch, config.max_batch_bytes);
            gate.sealed();
            last_seal = Instant::now();
            if sealed.send(batch).await.is_err() {
                return;
            }
        }
    }
    if let Some(batch) = open.take() {
        gate.sealed();
        let _ = sealed.send(batch).await;
    }
}

async fn run_flushing(
    flusher: Arc<Flusher>,
    sealed: mpsc::Receiver<OpenBatch>,
    gate: Arc<FlushGate>,
) {
    let in_flight = flusher.config.max_inflight_flushes.max(1);
    let batches = futures::stream::unfold(sealed, |mut sealed| async move {
        sealed.recv().await.map(|batch| (batch, sealed))
    });
    let written = batches
        .map(|batch| {
            let flusher = Arc::clone(&flusher);
            async move {
                let segment_id = SegmentId::generate();
                let span = info_span!("flush", segment = %segment_id, chunks = batch.chunks.len(), bytes = batch.bytes);
                let mut batch = batch;
                let write_started = std::time::Instant::now();
                let result = flusher.write(segment_id, &mut batch).instrument(span.clone()).await;
                let write_elapsed = write_started.elapsed();
                (batch, result, span, write_elapsed)
            }
        })
        .buffered(in_flight);
    let mut written = std::pin::pin!(written);
    while let Some((batch, result, span, write_elapsed)) = written.next().await {
        let commit_started = std::time::Instant::now();
        let metrics = &flusher.metrics;
        metrics.flush_write_seconds.record_duration(write_elapsed);
        let outcome = match result {
            Ok((object_key, segment)) => {
                metrics.flush_bytes.record(segment.len() as u64);
                metrics.flush_records.record(
                    batch
                        .chunks
                        .iter()
                        .map(|chunk| u64::from(chunk.builder.record_count))
                        .sum(),
                );
                flusher
                    .commit(&batch, object_key, segment)
                    .instrument(span.clone())
                    .await
            }
            Err(failure) => Err(failure),
        };
        metrics
            .flush_commit_seconds
            .record_duration(commit_started.elapsed());
        metrics
            .flush_seconds
            .record_duration(batch.opened_at.elapsed());
        span.in_scope(|| {
            debug!(
                write_ms = write_elapsed.as_secs_f64() * 1e3,
                commit_ms = commit_started.elapsed().as_secs_f64() * 1e3,
                since_open_ms = batch.opened_at.elapsed().as_secs_f64() * 1e3,
                "flushed"
            )
        });
        flusher.answer(batch, outcome);
        gate.answered();
    }
}

impl Flusher {
    /// Encodes the batch and writes it as one object; puts its chunks in the cache.
    async fn write(
        &self,
        segment_id: SegmentId,
        batch: &mut OpenBatch,
    ) -> Result<(String, EncodedSegment), FlushFailure> {
        // The chunks move to the blocking pool and back: no copy of the records.
        let chunks = std::mem::take(&mut batch.chunks);
        let compression = self.config.compression;
        let (chunks, segment) = tokio::task::spawn_blocking(move || {
            let mut chunks = chunks;
            let mut builders: Vec<&mut ChunkBuilder> = chunks
                .iter_mut()
                .map(|pending| &mut pending.builder)
                .collect();
            let segment = encode_segment(&mut builders, compression, now_ms());
            (chunks, segment)
        })
        .await
        .map_err(|error| FlushFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_code: "internal_error",
            message: format!("encoding the segment failed: {error}"),
        })?;
        batch.chunks = chunks;
        let object_key = segment_id.object_key();
        let path = ObjectPath::from(object_key.as_str());
        let mut attempt = 0;
        loop {
            let options = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(
                    &path,
                    segment.parts.iter().cloned().collect::<PutPayload>(),
                    options,
                )
                .await
            {
                Ok(_) => break,
                // Our own earlier attempt landed but its answer was lost: keys are unique.
                Err(object_store::Error::AlreadyExists { .. }) if attempt > 0 => break,
                Err(error) => {
                    attempt += 1;
                    if attempt >= WRITE_ATTEMPTS {
                        warn!(%error, object_key, "segment write failed; answering producers with 503");
                        return Err(FlushFailure {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            error_code: "storage_unavailable",
                            message: "writing the segment to the object store failed; nothing was stored, retry".into(),
                        });
                    }
                    debug!(%error, attempt, "segment write failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Metrics::add(&self.metrics.segment_bytes_written, segment.len() as u64);
        for (location, frame) in segment.chunks.iter().zip(&segment.frames) {
            self.cache
                .insert(&object_key, location.offset, location.len, frame.clone());
        }
        Ok((object_key, segment))
    }

    /// Commits the written segment: the coordinator assigns every chunk its offsets.
    async fn commit(
        &self,
        batch: &OpenBatch,
        object_key: String,
        segment: EncodedSegment,
    ) -> Result<Vec<ChunkOutcome>, FlushFailure> {
        let chunks = batch
            .chunks
            .iter()
            .zip(&segment.chunks)
            .map(|(pending, location)| ChunkCommit {
                topic_id: pending.topic_id,
                topic: pending.builder.topic.clone(),
                partition: pending.builder.partition,
                record_count: pending.builder.record_count,
                byte_offset: location.offset,
                byte_len: location.len,
                min_timestamp: pending.builder.min_timestamp,
                max_timestamp: pending.builder.max_timestamp,
                producer: pending.producer,
                kafka: pending.kafka,
                txn: pending.txn,
                request: pending.request,
            })
            .collect();
        let commit = SegmentCommit {
            object_key,
            object_size: segment.len() as u64,
            chunks,
        };
        let mut attempt = 0;
        loop {
            match self.coordinator.commit_segment(commit.clone()).await {
                Ok(outcomes) if outcomes.len() == commit.chunks.len() => return Ok(outcomes),
                Ok(outcomes) => {
                    return Err(FlushFailure {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        error_code: "internal_error",
                        message: format!(
                            "commit answered {} outcomes for {} chunks",
                            outcomes.len(),
                            commit.chunks.len()
                        ),
                    });
                }
                Err(CoordinatorError::Unavailable(message)) if attempt + 1 < COMMIT_ATTEMPTS => {
                    attempt += 1;
                    debug!(message, attempt, "commit failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                Err(error) => {
                    warn!(%error, object_key = %commit.object_key, "segment commit failed; the object is an orphan");
                    return Err(FlushFailure {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        error_code: "commit_failed",
                        message: format!(
                            "committing the segment failed: {error}; nothing was stored, retry"
                        ),
                    });
                }
            }
        }
    }

    fn answer(&self, batch: OpenBatch, outcome: Result<Vec<ChunkOutcome>, FlushFailure>) {
        let released: usize = batch.waiters.iter().map(|waiter| waiter.charged).sum();
        match &outcome {
            Ok(_) => Metrics::add(&self.metrics.flushes, 1),
            Err(_) => Metrics::add(&self.metrics.flush_failures, 1),
        }
        for waiter in batch.waiters {
            let reply = match &outcome {
                Err(failure) => Err(failure.clone()),
                Ok(outcomes) => offsets_for(&waiter.positions, outcomes),
            };
            if reply.is_ok() {
                Metrics::add(
                    &self.metrics.records_produced,
                    waiter.positions.len() as u64,
                );
                Metrics::add(&self.metrics.bytes_produced, waiter.bytes as u64);
            }
            // A producer that hung up still had its records stored; nothing to undo.
            let _ = waiter.reply.send(reply);
        }
        self.metrics
            .buffered_bytes
            .fetch_sub(released as u64, Ordering::AcqRel);
    }
}

fn offsets_for(
    positions: &[(u32, u32, u32)],
    outcomes: &[ChunkOutcome],
) -> Result<ProduceOffsets, FlushFailure> {
    positions
        .iter()
        .map(
            |&(chunk_index, position, partition)| match outcomes.get(chunk_index as usize) {
                Some(ChunkOutcome::Committed { base_offset }) => {
                    Ok((partition, base_offset + u64::from(position)))
                }
                Some(ChunkOutcome::Rejected {
                    error_code,
                    message,
                }) => Err(rejection(error_code, message)),
                None => Err(FlushFailure {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    error_code: "internal_error",
                    message: "commit outcome missing for a chunk".into(),
                }),
            },
        )
        .collect()
}

/// The HTTP answer to a chunk the coordinator refused.
fn rejection(error_code: &str, message: &str) -> FlushFailure {
    let (status, error_code) = match error_code {
        "topic_not_found" => (StatusCode::NOT_FOUND, "topic_not_found"),
        "unknown_producer" => (StatusCode::NOT_FOUND, "unknown_producer"),
        "producer_fenced" => (StatusCode::CONFLICT, "producer_fenced"),
        "invalid_producer_epoch" => (StatusCode::CONFLICT, "invalid_producer_epoch"),
        "out_of_order_sequence" => (StatusCode::CONFLICT, "out_of_order_sequence"),
        "duplicate_sequence" => (StatusCode::CONFLICT, "duplicate_sequence"),
        "sequence_reused" => (StatusCode::CONFLICT, "sequence_reused"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
    };
    FlushFailure {
        status,
        error_code,
        message: message.to_owned(),
    }
}
