//! The coordinator's Prometheus samples: group commit's counters and every group's
//! committed offsets and lag.

use silt_core::coordinator::Coordinator;

use super::CoordinatorService;

/// Groups whose lag `/metrics` reports (the first ones by name).
const MAX_GROUPS_IN_METRICS: usize = 200;

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl CoordinatorService {
    /// Group commit's counters and histograms, and every group's committed offset and
    /// lag per partition, in the Prometheus text format.
    pub(super) async fn render_metrics(&self) -> String {
        use silt_core::metrics::{describe, header, labelled, single};
        let mut out = String::new();
        let stats = self.stats.read();
        single(
            &mut out,
            "silt_coordinator_commit_transactions_total",
            "counter",
            "Store transactions that committed segments",
            stats.transactions,
        );
        single(
            &mut out,
            "silt_coordinator_segments_committed_total",
            "counter",
            "Segments committed",
            stats.segments,
        );
        let name = "silt_coordinator_commit_duration_seconds";
        header(
            &mut out,
            name,
            "Group-commit transactions (one or more segments each)",
        );
        self.stats.transaction_seconds.render(&mut out, name, "");
        let name = "silt_coordinator_commit_batch_segments";
        header(&mut out, name, "Segments per group-commit transaction");
        self.stats.batch_segments.render(&mut out, name, "");
        let groups = self.list_groups().await.unwrap_or_default();
        describe(
            &mut out,
            "silt_group_lag",
            "gauge",
            "Records between a group's committed offset and the high watermark",
        );
        let mut committed = String::new();
        describe(
            &mut committed,
            "silt_group_committed_offset",
            "gauge",
            "The next offset a group will consume",
        );
        for group in groups.iter().take(MAX_GROUPS_IN_METRICS) {
            let Ok(description) = self.describe_group(group).await else {
                continue;
            };
            for partition in &description.partitions {
                let labels = format!(
                    "group=\"{}\",topic=\"{}\",partition=\"{}\"",
                    label(group),
                    label(&partition.topic),
                    partition.partition
                );
                labelled(&mut out, "silt_group_lag", &labels, partition.lag);
                if let Some(offset) = partition.committed_offset {
                    labelled(
                        &mut committed,
                        "silt_group_committed_offset",
                        &labels,
                        offset,
                    );
                }
            }
        }
        out.push_str(&committed);
        out
    }
}
