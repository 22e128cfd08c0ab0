//! Balanced, sticky assignment of partitions to group members: every partition gets
//! one owner among the members that subscribe to its topic, loads differ by at most one
//! where subscriptions allow, and partitions stay with their previous owner whenever
//! that keeps the balance, so a rebalance moves as few partitions as it can.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use silt_core::groups::TopicPartition;

/// `members`: member id → subscribed topics. `partitions`: every partition to assign.
/// `previous`: the last generation's owners.
pub fn assign(
    members: &BTreeMap<String, BTreeSet<String>>,
    partitions: &[TopicPartition],
    previous: &HashMap<TopicPartition, String>,
) -> HashMap<TopicPartition, String> {
    let mut owners = HashMap::with_capacity(partitions.len());
    if members.is_empty() {
        return owners;
    }
    let eligible = |tp: &TopicPartition| -> Vec<&String> {
        members
            .iter()
            .filter(|(_, topics)| topics.contains(&tp.topic))
            .map(|(member, _)| member)
            .collect()
    };
    let assignable: Vec<&TopicPartition> = partitions
        .iter()
        .filter(|tp| !eligible(tp).is_empty())
        .collect();
    let min_quota = assignable.len() / members.len();
    let mut at_max_left = assignable.len() % members.len();
    let mut load: BTreeMap<&String, usize> = members.keys().map(|member| (member, 0)).collect();

    // Keep previous owners while they stay within quota.
    let mut unassigned = Vec::new();
    for tp in &assignable {
        let kept = previous.get(*tp).and_then(|owner| {
            let (member, _) = members.get_key_value(owner)?;
            if !members[member].contains(&tp.topic) {
                return None;
            }
            let current = load[member];
            if current < min_quota {
                Some(member)
            } else if current == min_quota && at_max_left > 0 {
                at_max_left -= 1;
                Some(member)
            } else {
                None
            }
        });
        match kept {
            Some(member) => {
                *load.entry(member).or_default() += 1;
                owners.insert((*tp).clone(), member.clone());
            }
            None => unassigned.push(*tp),
        }
    }
    // Give the rest to the least-loaded eligible member.
    for tp in unassigned {
        let Some(member) = eligible(tp)
            .into_iter()
            .min_by_key(|member| (load[*member], *member))
        else {
            continue;
        };
        *load.entry(member).or_default() += 1;
        owners.insert(tp.clone(), member.clone());
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitions(topic: &str, count: u32) -> Vec<TopicPartition> {
        (0..count)
            .map(|partition| TopicPartition {
                topic: topic.into(),
                partition,
            })
            .collect()
    }

    fn members(names: &[&str], topics: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        names
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn loads(owners: &HashMap<TopicPartition, String>) -> BTreeMap<String, usize> {
        let mut loads = BTreeMap::new();
        for owner in owners.values() {
            *loads.entry(owner.clone()).or_default() += 1;
        }
        loads
    }

    #[test]
    fn balanced_and_sticky() {
        let tps = partitions("t", 12);
        let three = assign(&members(&["a", "b", "c"], &["t"]), &tps, &HashMap::new());
        assert_eq!(three.len(), 12);
        assert!(
            loads(&three).values().all(|&n| n == 4),
            "{:?}",
            loads(&three)
        );

        let four = assign(&members(&["a", "b", "c", "d"], &["t"]), &tps, &three);
        assert!(loads(&four).values().all(|&n| n == 3), "{:?}", loads(&four));
        let moved = tps.iter().filter(|tp| three[*tp] != four[*tp]).count();
        assert_eq!(moved, 3, "only the new member's share moves");

        let two = assign(&members(&["a", "c"], &["t"]), &tps, &four);
        assert!(loads(&two).values().all(|&n| n == 6));
        assert!(
            tps.iter()
                .filter(|tp| four[*tp] == "a")
                .all(|tp| two[tp] == "a"),
            "survivors keep their partitions"
        );
    }

    #[test]
    fn uneven_counts_differ_by_at_most_one() {
        let tps = partitions("t", 10);
        let first = assign(&members(&["a", "b"], &["t"]), &tps, &HashMap::new());
        let second = assign(&members(&["a", "b", "c"], &["t"]), &tps, &first);
        let mut counts: Vec<usize> = loads(&second).into_values().collect();
        counts.sort();
        assert_eq!(counts, vec![3, 3, 4]);
    }

    #[test]
    fn only_subscribers_get_a_topic() {
        let mut tps = partitions("x", 4);
        tps.extend(partitions("y", 2));
        let mut group = members(&["a"], &["x"]);
        group.extend(members(&["b"], &["x", "y"]));
        let owners = assign(&group, &tps, &HashMap::new());
        assert_eq!(owners.len(), 6);
        assert!(
            tps.iter()
                .filter(|tp| tp.topic == "y")
                .all(|tp| owners[tp] == "b")
        );
        assert!(assign(&BTreeMap::new(), &tps, &HashMap::new()).is_empty());
    }
}
