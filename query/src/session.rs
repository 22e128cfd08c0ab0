//! One query's session: the topics the caller may read as tables of the default
//! schema, JSON functions, read-only SQL, and the query's own memory pool.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::GreedyMemoryPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use silt_core::Coordinator;
use silt_core::coordinator::CoordinatorError;
use silt_reader::Reader;

use crate::{MayRead, QueryAnswer, QueryError, TopicTable};

/// What every query's session is made of.
pub(crate) struct Parts {
    pub coordinator: Arc<dyn Coordinator>,
    pub reader: Arc<Reader>,
    pub store_url: ObjectStoreUrl,
    /// The bucket's store and the shared caches (Parquet footers).
    pub base: Arc<RuntimeEnv>,
    pub target_partitions: usize,
}

/// The topics as tables.
struct Topics {
    parts: Arc<Parts>,
    /// The topics the caller may read, when the query began.
    names: Vec<String>,
    may_read: MayRead,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("names", &self.names)
            .finish()
    }
}

#[async_trait]
impl SchemaProvider for Topics {
    fn table_names(&self) -> Vec<String> {
        self.names.clone()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let external = |error: QueryError| DataFusionError::External(Box::new(error));
        let coordinator = &self.parts.coordinator;
        let description = match coordinator.describe_topic(name).await {
            Ok(description) => description,
            Err(CoordinatorError::TopicNotFound(_)) => return Ok(None),
            Err(error) => return Err(external(error.into())),
        };
        if !(self.may_read)(name) {
            return Err(external(QueryError::Forbidden(name.to_owned())));
        }
        let files = coordinator
            .list_tables(name)
            .await
            .map_err(|error| external(error.into()))?;
        Ok(Some(Arc::new(TopicTable::new(
            description.topic,
            files,
            description.partitions,
            Arc::clone(&self.parts.reader),
            self.parts.store_url.clone(),
        ))))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.names.iter().any(|known| known == name)
    }
}

/// A session for one query of a caller.
async fn session(
    parts: &Arc<Parts>,
    may_read: MayRead,
    memory_limit: usize,
) -> Result<SessionContext, QueryError> {
    let names = parts
        .coordinator
        .list_topics()
        .await?
        .into_iter()
        .map(|topic| topic.name)
        .filter(|name| may_read(name))
        .collect();
    let runtime = RuntimeEnvBuilder::from_runtime_env(&parts.base)
        .with_memory_pool(Arc::new(GreedyMemoryPool::new(memory_limit)))
        // No spilling to local disk: a query over its memory limit fails.
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?;
    let config = SessionConfig::new()
        .with_target_partitions(parts.target_partitions)
        .with_information_schema(true);
    let mut context = SessionContext::new_with_config_rt(config, runtime);
    datafusion_functions_json::register_all(&mut context)?;
    let catalog = context
        .catalog("datafusion")
        .ok_or_else(|| QueryError::Internal("the default catalog is missing".into()))?;
    catalog.register_schema(
        "public",
        Arc::new(Topics {
            parts: Arc::clone(parts),
            names,
            may_read,
        }),
    )?;
    Ok(context)
}

/// Plans and runs `sql`, and answers its rows (at most `max_rows`).
pub(crate) async fn execute(
    parts: &Arc<Parts>,
    sql: &str,
    may_read: MayRead,
    max_rows: usize,
    memory_limit: usize,
) -> Result<QueryAnswer, QueryError> {
    let context = session(parts, may_read, memory_limit).await?;
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = context.sql_with_options(sql, read_only).await?;
    // One row past the limit tells that the answer is longer (a plan's explanation
    // must stay the root of its plan, and is short).
    let explains = matches!(
        frame.logical_plan(),
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)
    );
    let frame = if explains {
        frame
    } else {
        frame.limit(0, Some(max_rows.saturating_add(1)))?
    };
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let task = Arc::new(frame.task_ctx());
    // Every operator's output takes from the task's scheduling budget, so that a query
    // whose operators make many batches from few (a cross join) still yields, and
    // stops when its timeout drops it.
    let plan = frame
        .create_physical_plan()
        .await?
        .transform_up(|node| {
            Ok(Transformed::yes(
                Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>
            ))
        })?
        .data;
    let mut stream = execute_stream(plan, task)?;
    let (mut batches, mut rows, mut bytes) = (Vec::new(), 0usize, 0usize);
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        bytes += batch.get_array_memory_size();
        if rows > max_rows {
            return Err(QueryError::RowLimit(max_rows));
        }
        if bytes > memory_limit {
            return Err(QueryError::MemoryLimit(format!(
                "its answer takes more than {memory_limit} bytes"
            )));
        }
        batches.push(batch);
    }
    Ok(QueryAnswer { schema, batches })
}
