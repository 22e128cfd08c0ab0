//! A foyer hybrid cache of chunk frames (compressed, as stored), keyed by object and
//! byte range, and of views made from them (a chunk encoded as a Kafka record batch,
//! say), keyed by the chunk and the view's name. Entries are immutable, so the cache
//! never needs invalidation.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use foyer::{
    BlockEngineConfig, DeviceBuilder, FsDeviceBuilder, Hint, HybridCache, HybridCacheBuilder,
    HybridCacheProperties, Location, PsyncIoEngineConfig, Source,
};
use tracing::debug;

use crate::error::ReadError;

/// Sizes of the chunk cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Bytes of chunk data kept in memory.
    pub memory_bytes: usize,
    /// Bytes of chunk data kept on local disk; 0 disables the disk tier.
    pub disk_bytes: usize,
    /// Folder of the disk tier.
    pub disk_dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 256 << 20,
            disk_bytes: 0,
            disk_dir: None,
        }
    }
}

const DISK_BLOCK_BYTES: usize = 16 << 20;

#[derive(Clone)]
pub struct ChunkCache {
    inner: HybridCache<String, Bytes>,
    stats: Arc<CacheStats>,
}

/// Lookups of the chunk cache by where they were answered.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub memory_hits: AtomicU64,
    pub disk_hits: AtomicU64,
    pub misses: AtomicU64,
}

fn cache_key(object_key: &str, byte_offset: u64, byte_len: u32, view: &str) -> String {
    if view.is_empty() {
        format!("{object_key}#{byte_offset}+{byte_len}")
    } else {
        format!("{object_key}#{byte_offset}+{byte_len}/{view}")
    }
}

/// What it would cost to have a cached view again, which decides how long it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewCost {
    /// Read from the bucket (a chunk's frame, a Parquet row group's part): kept by
    /// recency, in memory and then on disk.
    Read,
    /// Rebuilt from its chunk's frame without the bucket (a Kafka batch encoded from
    /// the chunk's records): evicted before anything read and never written to disk, so
    /// that a catch-up's batches, each served once, do not push out the chunks its
    /// other partitions have yet to read.
    Rebuilt,
}

impl ChunkCache {
    pub async fn open(config: &CacheConfig) -> Result<Self, ReadError> {
        let builder = HybridCacheBuilder::new()
            .with_name("silt-chunks")
            .memory(config.memory_bytes.max(1 << 20))
            .with_weighter(|key: &String, value: &Bytes| key.len() + value.len())
            .storage();
        let inner = match (&config.disk_dir, config.disk_bytes) {
            (Some(dir), disk_bytes) if disk_bytes > 0 => {
                std::fs::create_dir_all(dir).map_err(|error| {
                    ReadError::Cache(format!("creating {}: {error}", dir.display()))
                })?;
                let device = FsDeviceBuilder::new(dir)
                    .with_capacity(disk_bytes.max(2 * DISK_BLOCK_BYTES))
                    .build()
                    .map_err(|error| ReadError::Cache(error.to_string()))?;
                builder
                    .with_io_engine_config(PsyncIoEngineConfig::new())
                    .with_engine_config(
                        BlockEngineConfig::new(device).with_block_size(DISK_BLOCK_BYTES),
                    )
                    .build()
                    .await
            }
            _ => builder.build().await,
        }
        .map_err(|error| ReadError::Cache(error.to_string()))?;
        Ok(ChunkCache {
            inner,
            stats: Arc::default(),
        })
    }

    /// The chunk frame at the given range of an object, if cached in memory or on disk.
    pub async fn get(&self, object_key: &str, byte_offset: u64, byte_len: u32) -> Option<Bytes> {
        self.get_view(object_key, byte_offset, byte_len, "").await
    }

    /// The view named `view` of the chunk at the given range, if cached.
    pub async fn get_view(
        &self,
        object_key: &str,
        byte_offset: u64,
        byte_len: u32,
        view: &str,
    ) -> Option<Bytes> {
        self.lookup(cache_key(object_key, byte_offset, byte_len, view), true)
            .await
    }

    /// Like [`ChunkCache::get`], but not counted in the statistics: for a second look
    /// after waiting on another reader.
    pub async fn peek(&self, object_key: &str, byte_offset: u64, byte_len: u32) -> Option<Bytes> {
        self.lookup(cache_key(object_key, byte_offset, byte_len, ""), false)
            .await
    }

    async fn lookup(&self, key: String, counted: bool) -> Option<Bytes> {
        let counter = |counter: &AtomicU64| {
            if counted {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        };
        match self.inner.get(&key).await {
            Ok(Some(entry)) => {
                match entry.source() {
                    Source::Disk => counter(&self.stats.disk_hits),
                    Source::Memory | Source::Outer => counter(&self.stats.memory_hits),
                };
                Some(entry.value().clone())
            }
            Ok(None) => {
                counter(&self.stats.misses);
                None
            }
            Err(error) => {
                counter(&self.stats.misses);
                debug!(%error, key, "chunk cache lookup failed; reading from the object store");
                None
            }
        }
    }

    pub fn insert(&self, object_key: &str, byte_offset: u64, byte_len: u32, frame: Bytes) {
        self.insert_view(object_key, byte_offset, byte_len, "", ViewCost::Read, frame);
    }

    /// Caches `bytes` as the view named `view` of the chunk at the given range; `cost`
    /// decides how long it is kept.
    pub fn insert_view(
        &self,
        object_key: &str,
        byte_offset: u64,
        byte_len: u32,
        view: &str,
        cost: ViewCost,
        bytes: Bytes,
    ) {
        let key = cache_key(object_key, byte_offset, byte_len, view);
        match cost {
            ViewCost::Read => {
                self.inner.insert(key, bytes);
            }
            ViewCost::Rebuilt => {
                self.inner.insert_with_properties(
                    key,
                    bytes,
                    HybridCacheProperties::default()
                        .with_hint(Hint::Low)
                        .with_location(Location::InMem),
                );
            }
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Flushes the disk tier and stops its workers.
    pub async fn close(&self) -> Result<(), ReadError> {
        self.inner
            .close()
            .await
            .map_err(|error| ReadError::Cache(error.to_string()))
    }
}
