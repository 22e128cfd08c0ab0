//! What a query's filters say about the columns that place a record in the log
//! (`partition`, `offset`, `timestamp`): the bounds that choose compacted files and
//! the tail's partitions and offsets before anything is read. Bounds only ever widen
//! what a filter allows; the filters themselves still run on every row read.

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// The records a query may need, as far as its filters tell (inclusive bounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// `None`: every partition.
    pub partitions: Option<BTreeSet<u32>>,
    pub offsets: (u64, u64),
    /// Milliseconds since the epoch.
    pub timestamps: (i64, i64),
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            partitions: None,
            offsets: (0, u64::MAX),
            timestamps: (i64::MIN, i64::MAX),
        }
    }
}

#[derive(Clone, Copy)]
enum Place {
    Partition,
    Offset,
    Timestamp,
}

impl Bounds {
    /// The bounds of all of `filters` at once (they are ANDed).
    pub fn of(filters: &[Expr]) -> Bounds {
        let mut bounds = Bounds::default();
        for filter in filters {
            bounds.narrow(filter);
        }
        bounds
    }

    /// Whether partition `partition` may hold wanted records.
    pub fn partition(&self, partition: u32) -> bool {
        self.partitions
            .as_ref()
            .is_none_or(|wanted| wanted.contains(&partition))
    }

    /// Whether offsets `from..to` may hold wanted records.
    pub fn offsets_overlap(&self, from: u64, to: u64) -> bool {
        from < to && from <= self.offsets.1 && to > self.offsets.0
    }

    /// Whether timestamps `min..=max` may hold wanted records.
    pub fn timestamps_overlap(&self, min: i64, max: i64) -> bool {
        min <= self.timestamps.1 && max >= self.timestamps.0
    }

    /// Whether nothing can match.
    pub fn is_empty(&self) -> bool {
        self.offsets.0 > self.offsets.1
            || self.timestamps.0 > self.timestamps.1
            || self.partitions.as_ref().is_some_and(BTreeSet::is_empty)
    }

    fn narrow(&mut self, filter: &Expr) {
        match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => {
                self.narrow(left);
                self.narrow(right);
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if let (Some(place), Some(value)) = (place_of(left), literal(right)) {
                    self.compare(place, *op, value);
                } else if let (Some(value), Some(place)) = (literal(left), place_of(right))
                    && let Some(op) = op.swap()
                {
                    self.compare(place, op, value);
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => {
                if let (Some(place), Some(low), Some(high)) =
                    (place_of(expr), literal(low), literal(high))
                {
                    self.compare(place, Operator::GtEq, low);
                    self.compare(place, Operator::LtEq, high);
                }
            }
            Expr::InList(list) if !list.negated => {
                if let Some(Place::Partition) = place_of(&list.expr) {
                    let values: Option<BTreeSet<u32>> = list
                        .list
                        .iter()
                        .map(|item| {
                            literal(item)
                                .and_then(Literal::integer)
                                .map(|value| u32::try_from(value).unwrap_or(u32::MAX))
                        })
                        .collect();
                    if let Some(values) = values {
                        self.only_partitions(values);
                    }
                }
            }
            _ => {}
        }
    }

    fn only_partitions(&mut self, values: BTreeSet<u32>) {
        self.partitions = Some(match self.partitions.take() {
            Some(wanted) => wanted.intersection(&values).copied().collect(),
            None => values,
        });
    }

    fn compare(&mut self, place: Place, op: Operator, value: Literal) {
        match place {
            Place::Partition | Place::Offset => {
                let Some(value) = value.integer() else {
                    return;
                };
                let (low, high) = match op {
                    Operator::Eq => (value, value),
                    Operator::Gt => (value.saturating_add(1), i128::MAX),
                    Operator::GtEq => (value, i128::MAX),
                    Operator::Lt => (i128::MIN, value.saturating_sub(1)),
                    Operator::LtEq => (i128::MIN, value),
                    _ => return,
                };
                let clamp = |value: i128, max: u64| value.clamp(0, i128::from(max)) as u64;
                match place {
                    Place::Offset => {
                        if high < 0 {
                            self.offsets = (1, 0);
                            return;
                        }
                        self.offsets.0 = self.offsets.0.max(clamp(low, u64::MAX));
                        self.offsets.1 = self.offsets.1.min(clamp(high, u64::MAX));
                    }
                    _ => {
                        if op == Operator::Eq {
                            let only = u32::try_from(value).ok().into_iter().collect();
                            self.only_partitions(only);
                        } else if high < 0 || low > i128::from(u32::MAX) {
                            self.partitions = Some(BTreeSet::new());
                        } else if high - low.max(0) < 100_000 {
                            let range = clamp(low, u64::from(u32::MAX)) as u32
                                ..=clamp(high, u64::from(u32::MAX)) as u32;
                            self.only_partitions(range.collect());
                        }
                    }
                }
            }
            Place::Timestamp => {
                let Some((floor, ceil)) = value.millis() else {
                    return;
                };
                let (low, high) = match op {
                    Operator::Eq => (floor, ceil),
                    Operator::Gt | Operator::GtEq => (floor, i64::MAX),
                    Operator::Lt | Operator::LtEq => (i64::MIN, ceil),
                    _ => return,
                };
                self.timestamps.0 = self.timestamps.0.max(low);
                self.timestamps.1 = self.timestamps.1.min(high);
            }
        }
    }
}

/// The log column an expression reads, if it is one (a timestamp may be cast to
/// another timestamp type, which keeps its order).
fn place_of(expr: &Expr) -> Option<Place> {
    match expr {
        Expr::Column(column) => match column.name.as_str() {
            "partition" => Some(Place::Partition),
            "offset" => Some(Place::Offset),
            "timestamp" => Some(Place::Timestamp),
            _ => None,
        },
        Expr::Cast(cast)
            if matches!(
                cast.field.data_type(),
                datafusion::arrow::datatypes::DataType::Timestamp(..)
            ) =>
        {
            place_of(&cast.expr).filter(|place| matches!(place, Place::Timestamp))
        }
        _ => None,
    }
}

struct Literal(ScalarValue);

fn literal(expr: &Expr) -> Option<Literal> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(Literal(value.clone())),
        _ => None,
    }
}

impl Literal {
    fn integer(self) -> Option<i128> {
        Some(match self.0 {
            ScalarValue::Int8(Some(v)) => v.into(),
            ScalarValue::Int16(Some(v)) => v.into(),
            ScalarValue::Int32(Some(v)) => v.into(),
            ScalarValue::Int64(Some(v)) => v.into(),
            ScalarValue::UInt8(Some(v)) => v.into(),
            ScalarValue::UInt16(Some(v)) => v.into(),
            ScalarValue::UInt32(Some(v)) => v.into(),
            ScalarValue::UInt64(Some(v)) => v.into(),
            _ => return None,
        })
    }

    /// The instant in milliseconds, rounded down and up.
    fn millis(self) -> Option<(i64, i64)> {
        let (value, per_milli) = match self.0 {
            ScalarValue::TimestampSecond(Some(v), _) => {
                let ms = v.saturating_mul(1000);
                return Some((ms, ms));
            }
            ScalarValue::TimestampMillisecond(Some(v), _) => return Some((v, v)),
            ScalarValue::TimestampMicrosecond(Some(v), _) => (v, 1_000),
            ScalarValue::TimestampNanosecond(Some(v), _) => (v, 1_000_000),
            _ => return None,
        };
        Some((value.div_euclid(per_milli), value.div_euclid(per_milli) + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    fn ts(ms: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(Some(ms), None))
    }

    #[test]
    fn comparisons_between_and_in_lists_narrow_the_bounds() {
        let bounds = Bounds::of(&[
            col("offset").gt_eq(lit(10i64)),
            col("offset").lt(lit(20i64)),
            col("partition").in_list(vec![lit(1i32), lit(3i32)], false),
            col("timestamp").between(ts(1_000), ts(2_000)),
        ]);
        assert_eq!(bounds.offsets, (10, 19));
        assert_eq!(bounds.partitions, Some([1, 3].into()));
        assert_eq!(bounds.timestamps, (1_000, 2_000));
        assert!(bounds.partition(3) && !bounds.partition(2));
        assert!(bounds.offsets_overlap(19, 30) && !bounds.offsets_overlap(20, 30));
        assert!(
            bounds.timestamps_overlap(2_000, 3_000) && !bounds.timestamps_overlap(2_001, 3_000)
        );
    }

    #[test]
    fn a_literal_on_the_left_and_nested_ands_count_too() {
        let bounds = Bounds::of(&[lit(5i64)
            .lt(col("offset"))
            .and(col("partition").eq(lit(2i32)))
            .and(col("partition").gt_eq(lit(0i32)))]);
        assert_eq!(bounds.offsets, (6, u64::MAX));
        assert_eq!(bounds.partitions, Some([2].into()));
    }

    #[test]
    fn what_it_cannot_read_leaves_everything() {
        let bounds = Bounds::of(&[
            col("offset").eq(col("partition")),
            col("offset").not_eq(lit(3i64)),
            col("partition").in_list(vec![lit(1i32)], true),
            col("value").is_null(),
            col("offset").gt(lit("x")),
        ]);
        assert_eq!(bounds, Bounds::default());
    }

    #[test]
    fn impossible_filters_are_empty() {
        assert!(Bounds::of(&[col("offset").lt(lit(-1i64))]).is_empty());
        assert!(Bounds::of(&[col("partition").eq(lit(-1i64))]).is_empty());
        assert!(
            Bounds::of(&[
                col("partition").eq(lit(1i32)),
                col("partition").eq(lit(2i32))
            ])
            .is_empty()
        );
        assert!(Bounds::of(&[col("offset").gt(lit(5i64)), col("offset").lt(lit(3i64))]).is_empty());
    }

    #[test]
    fn finer_timestamps_round_outwards_and_casts_of_the_column_count() {
        let nanos = lit(ScalarValue::TimestampNanosecond(
            Some(1_500_000),
            Some("+00:00".into()),
        ));
        let cast = Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(col("timestamp")),
            datafusion::arrow::datatypes::DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Nanosecond,
                Some("+00:00".into()),
            ),
        ));
        let bounds = Bounds::of(&[cast.gt(nanos)]);
        assert_eq!(bounds.timestamps, (1, i64::MAX));
        let bounds = Bounds::of(&[
            col("timestamp").lt(lit(ScalarValue::TimestampMicrosecond(Some(2_500), None)))
        ]);
        assert_eq!(bounds.timestamps, (i64::MIN, 3));
    }
}
