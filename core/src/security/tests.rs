use super::*;

fn acl(
    principal: &str,
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    operation: Operation,
    permission: Permission,
) -> AclBinding {
    AclBinding {
        principal: principal.into(),
        host: ANY_HOST.into(),
        resource_type,
        resource_name: name.into(),
        pattern_type,
        operation,
        permission,
    }
}

fn allowed(acls: &[AclBinding], principal: &str, operation: Operation, name: &str) -> bool {
    authorize(
        acls,
        principal,
        "10.0.0.1",
        operation,
        ResourceType::Topic,
        name,
    )
}

#[test]
fn nothing_is_allowed_without_an_acl() {
    assert!(!allowed(&[], "User:alice", Operation::Read, "orders"));
}

#[test]
fn literal_prefixed_and_wildcard_names_match_as_kafka_does() {
    use Operation::*;
    use PatternType::*;
    use Permission::*;
    let acls = [
        acl(
            "User:alice",
            ResourceType::Topic,
            "orders",
            Literal,
            Read,
            Allow,
        ),
        acl(
            "User:bob",
            ResourceType::Topic,
            "pay-",
            Prefixed,
            Write,
            Allow,
        ),
        acl("User:*", ResourceType::Topic, "*", Literal, Describe, Allow),
    ];
    assert!(allowed(&acls, "User:alice", Read, "orders"));
    assert!(
        !allowed(&acls, "User:alice", Read, "orders2"),
        "literal is exact"
    );
    assert!(!allowed(&acls, "User:alice", Write, "orders"));
    assert!(allowed(&acls, "User:bob", Write, "pay-eu"));
    assert!(
        !allowed(&acls, "User:bob", Write, "pa"),
        "shorter than the prefix"
    );
    assert!(allowed(&acls, "User:carol", Describe, "anything"));
    // An ACL of another resource type never applies.
    assert!(!authorize(
        &acls,
        "User:alice",
        "h",
        Read,
        ResourceType::Group,
        "orders"
    ));
}

#[test]
fn deny_wins_and_all_covers_every_operation() {
    use Operation::*;
    use PatternType::*;
    use Permission::*;
    let acls = [
        acl("User:alice", ResourceType::Topic, "*", Literal, All, Allow),
        acl(
            "User:alice",
            ResourceType::Topic,
            "secret",
            Literal,
            Read,
            Deny,
        ),
    ];
    assert!(allowed(&acls, "User:alice", Delete, "orders"));
    assert!(!allowed(&acls, "User:alice", Read, "secret"));
    assert!(
        allowed(&acls, "User:alice", Write, "secret"),
        "only READ is denied"
    );
    let deny_all = [
        acls[0].clone(),
        acl("User:*", ResourceType::Topic, "sec", Prefixed, All, Deny),
    ];
    assert!(!allowed(&deny_all, "User:alice", Describe, "secret"));
}

#[test]
fn reading_writing_deleting_or_altering_implies_describe() {
    use Operation::*;
    for operation in [Read, Write, Delete, Alter] {
        let acls = [acl(
            "User:a",
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            operation,
            Permission::Allow,
        )];
        assert!(allowed(&acls, "User:a", Describe, "t"), "{operation}");
        assert!(
            !allowed(&acls, "User:a", DescribeConfigs, "t"),
            "{operation}"
        );
    }
    let acls = [acl(
        "User:a",
        ResourceType::Topic,
        "t",
        PatternType::Literal,
        AlterConfigs,
        Permission::Allow,
    )];
    assert!(allowed(&acls, "User:a", DescribeConfigs, "t"));
    // A DENY of READ does not deny DESCRIBE (Kafka denies only what it names).
    let acls = [
        acl(
            "User:a",
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            Describe,
            Permission::Allow,
        ),
        acl(
            "User:a",
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            Read,
            Permission::Deny,
        ),
    ];
    assert!(allowed(&acls, "User:a", Describe, "t"));
}

#[test]
fn hosts_restrict_an_acl() {
    let mut only_one = acl(
        "User:a",
        ResourceType::Group,
        "g",
        PatternType::Literal,
        Operation::Read,
        Permission::Allow,
    );
    only_one.host = "10.0.0.1".into();
    let acls = [only_one];
    assert!(authorize(
        &acls,
        "User:a",
        "10.0.0.1",
        Operation::Read,
        ResourceType::Group,
        "g"
    ));
    assert!(!authorize(
        &acls,
        "User:a",
        "10.0.0.2",
        Operation::Read,
        ResourceType::Group,
        "g"
    ));
}

#[test]
fn filters_select_by_each_field_and_by_match() {
    use Operation::*;
    use PatternType::*;
    use Permission::*;
    let acls = [
        acl(
            "User:a",
            ResourceType::Topic,
            "orders",
            Literal,
            Read,
            Allow,
        ),
        acl("User:a", ResourceType::Topic, "ord", Prefixed, Write, Allow),
        acl("User:b", ResourceType::Topic, "*", Literal, Read, Deny),
        acl(
            "User:b",
            ResourceType::Group,
            "orders",
            Literal,
            Read,
            Allow,
        ),
    ];
    let count = |filter: AclFilter| acls.iter().filter(|acl| filter.selects(acl)).count();
    assert_eq!(count(AclFilter::default()), 4);
    assert_eq!(
        count(AclFilter {
            principal: Some("User:a".into()),
            ..AclFilter::default()
        }),
        2
    );
    assert_eq!(
        count(AclFilter {
            resource_type: Some(ResourceType::Topic),
            resource_name: Some("orders".into()),
            pattern_type: Some(PatternFilter::Match),
            ..AclFilter::default()
        }),
        3,
        "literal, prefix and wildcard all apply to orders"
    );
    assert_eq!(
        count(AclFilter {
            resource_name: Some("orders".into()),
            ..AclFilter::default()
        }),
        2,
        "without match, the name is compared as it is"
    );
    assert_eq!(
        count(AclFilter {
            permission: Some(Deny),
            ..AclFilter::default()
        }),
        1
    );
}

#[test]
fn names_parse_as_kafka_spells_them() {
    assert_eq!("describe-configs".parse(), Ok(Operation::DescribeConfigs));
    assert_eq!(
        "TRANSACTIONAL_ID".parse(),
        Ok(ResourceType::TransactionalId)
    );
    assert_eq!(Operation::from_code(12), Some(Operation::IdempotentWrite));
    assert_eq!(
        Operation::from_code(1),
        None,
        "ANY is a filter, not an operation"
    );
    assert!("sideways".parse::<Operation>().is_err());
    assert!(check_principal("alice").is_err());
    assert!(check_principal("User:").is_err());
    assert!(check_principal("User:alice").is_ok());
    assert!(check_user_name("a,b").is_err());
    assert!(check_user_name("").is_err());
    let cluster = AclBinding {
        resource_type: ResourceType::Cluster,
        resource_name: "other".into(),
        ..acl(
            "User:a",
            ResourceType::Cluster,
            "",
            PatternType::Literal,
            Operation::Alter,
            Permission::Allow,
        )
    };
    assert!(cluster.validate().is_err());
}

#[test]
fn keys_stop_at_revocation_or_expiry() {
    let key = ApiKey {
        id: "k".into(),
        principal: "User:a".into(),
        secret_sha256: String::new(),
        description: String::new(),
        created_ms: 0,
        expires_ms: Some(100),
        revoked_ms: None,
    };
    assert!(key.is_live(99));
    assert!(!key.is_live(100));
    let revoked = ApiKey {
        expires_ms: None,
        revoked_ms: Some(5),
        ..key
    };
    assert!(!revoked.is_live(0));
}
