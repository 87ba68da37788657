//! frazil-danube-admin: calls a broker's admin services (TopicAdmin,
//! NamespaceAdmin, BrokerAdmin) through the client stubs that Danube
//! generates from its DanubeAdmin.proto and publishes in danube-core 0.15, the
//! stubs its own `danube-admin` tool uses. It stands in for that tool, which
//! is not published on crates.io: the bytes on the wire are the stubs'.
//!
//! Usage: frazil-danube-admin [--endpoint URL] GROUP COMMAND ARGS...
//! The endpoint defaults to $DANUBE_ADMIN_ENDPOINT, then http://127.0.0.1:50051.
//! A reply is printed as one JSON object on stdout (exit 0); a gRPC error as
//! `error: CODE: message` on stderr (exit 1); bad usage exits 2.

use danube_core::admin_proto as admin;
use serde_json::{json, Value};
use tonic::transport::Channel;

const USAGE: &str = "usage: frazil-danube-admin [--endpoint URL] GROUP COMMAND ARGS...
  brokers list | leader | namespaces | unload BROKER_ID | activate BROKER_ID | balance | rebalance
  namespaces create NS | delete NS | topics NS | policies NS
  topics list NS | broker-topics BROKER_ID | create TOPIC [--reliable] [--schema SUBJECT]
         | create-partitioned TOPIC N [--reliable] | delete TOPIC | unload TOPIC | describe TOPIC
         | subscriptions TOPIC | unsubscribe TOPIC SUB
         | get-failure-policy TOPIC SUB
         | set-failure-policy TOPIC SUB MAX_REDELIVERIES [--ack-timeout MS] [--base-delay MS]
             [--max-delay MS] [--backoff fixed|exponential|N] [--poison block|drop|dead_letter|N]
             [--dead-letter TOPIC]   (unset times: 30000, 1000, 60000; backoff fixed; poison block)
         | get-dispatch-config TOPIC SUB | set-dispatch-config TOPIC SUB MAX_UNACKED";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn code_name(c: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match c {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn delivery(reliable: bool) -> i32 {
    if reliable {
        admin::DispatchStrategy::Reliable as i32
    } else {
        admin::DispatchStrategy::NonReliable as i32
    }
}

fn topic_infos(r: admin::TopicInfoListResponse) -> Value {
    let topics: Vec<Value> = r
        .topics
        .into_iter()
        .map(|t| json!({"name": t.name, "broker_id": t.broker_id, "delivery": t.delivery}))
        .collect();
    json!({ "topics": topics })
}

fn failure_policy(p: &admin::SubscriptionFailurePolicy) -> Value {
    json!({
        "max_redelivery_count": p.max_redelivery_count,
        "ack_timeout_ms": p.ack_timeout_ms,
        "base_redelivery_delay_ms": p.base_redelivery_delay_ms,
        "max_redelivery_delay_ms": p.max_redelivery_delay_ms,
        "backoff_strategy": p.backoff_strategy,
        "dead_letter_topic": p.dead_letter_topic,
        "poison_policy": p.poison_policy,
    })
}

async fn run(endpoint: String, args: Vec<String>) -> Result<Value, tonic::Status> {
    let channel = Channel::from_shared(endpoint.clone())
        .map_err(|e| tonic::Status::invalid_argument(format!("bad endpoint {endpoint}: {e}")))?
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("cannot connect to {endpoint}: {e}")))?;
    let mut brokers = admin::broker_admin_client::BrokerAdminClient::new(channel.clone());
    let mut namespaces = admin::namespace_admin_client::NamespaceAdminClient::new(channel.clone());
    let mut topics = admin::topic_admin_client::TopicAdminClient::new(channel);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let flag = |name: &str| a.iter().any(|x| *x == name);
    let opt = |name: &str| a.iter().position(|x| *x == name).and_then(|i| a.get(i + 1)).map(|s| s.to_string());
    let arg = |i: usize| a.get(i).map(|s| s.to_string()).unwrap_or_else(|| usage());
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or_else(|_| usage());
    let sub_req = || admin::SubscriptionRequest { topic: arg(2), subscription: arg(3) };
    let ns_req = || admin::NamespaceRequest { name: arg(2) };
    let topic_req = || admin::TopicRequest { name: arg(2) };

    let out = match (a.first().copied().unwrap_or(""), a.get(1).copied().unwrap_or("")) {
        ("brokers", "list") => {
            let r = brokers.list_brokers(admin::Empty {}).await?.into_inner();
            let list: Vec<Value> = r
                .brokers
                .into_iter()
                .map(|b| {
                    json!({"broker_id": b.broker_id, "broker_addr": b.broker_addr, "broker_role": b.broker_role,
                           "admin_addr": b.admin_addr, "metrics_addr": b.metrics_addr,
                           "broker_status": b.broker_status})
                })
                .collect();
            json!({ "brokers": list })
        }
        ("brokers", "leader") => {
            json!({"leader": brokers.get_leader_broker(admin::Empty {}).await?.into_inner().leader})
        }
        ("brokers", "namespaces") => {
            json!({"namespaces": brokers.list_namespaces(admin::Empty {}).await?.into_inner().namespaces})
        }
        ("brokers", "unload") => {
            let r = brokers
                .unload_broker(admin::UnloadBrokerRequest { broker_id: arg(2), max_parallel: 1, ..Default::default() })
                .await?
                .into_inner();
            json!({"started": r.started, "total": r.total})
        }
        ("brokers", "activate") => {
            let r = brokers
                .activate_broker(admin::ActivateBrokerRequest { broker_id: arg(2), reason: "test".into() })
                .await?
                .into_inner();
            json!({"success": r.success})
        }
        ("brokers", "balance") => {
            let r = brokers.get_cluster_balance(admin::ClusterBalanceRequest {}).await?.into_inner();
            json!({"broker_count": r.broker_count})
        }
        ("brokers", "rebalance") => {
            let r = brokers
                .trigger_rebalance(admin::RebalanceRequest { dry_run: true, max_moves: None })
                .await?
                .into_inner();
            json!({"success": r.success})
        }
        ("namespaces", "create") => {
            json!({"success": namespaces.create_namespace(ns_req()).await?.into_inner().success})
        }
        ("namespaces", "delete") => {
            json!({"success": namespaces.delete_namespace(ns_req()).await?.into_inner().success})
        }
        ("namespaces", "topics") => {
            json!({"topics": namespaces.get_namespace_topics(ns_req()).await?.into_inner().topics})
        }
        ("namespaces", "policies") => {
            let text = namespaces.get_namespace_policies(ns_req()).await?.into_inner().policies;
            // The policies travel as a JSON document in a string.
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| tonic::Status::internal(format!("policies are not JSON ({e}): {text}")))?;
            json!({ "policies": parsed })
        }
        ("topics", "list") => topic_infos(topics.list_namespace_topics(ns_req()).await?.into_inner()),
        ("topics", "broker-topics") => {
            topic_infos(topics.list_broker_topics(admin::BrokerRequest { broker_id: arg(2) }).await?.into_inner())
        }
        ("topics", "create") => {
            let req = admin::NewTopicRequest {
                name: arg(2),
                schema_subject: opt("--schema"),
                dispatch_strategy: delivery(flag("--reliable")),
            };
            json!({"success": topics.create_topic(req).await?.into_inner().success})
        }
        ("topics", "create-partitioned") => {
            let req = admin::PartitionedTopicRequest {
                base_name: arg(2),
                partitions: u32::try_from(num(3)).unwrap_or_else(|_| usage()),
                schema_subject: opt("--schema"),
                dispatch_strategy: delivery(flag("--reliable")),
            };
            json!({"success": topics.create_partitioned_topic(req).await?.into_inner().success})
        }
        ("topics", "delete") => json!({"success": topics.delete_topic(topic_req()).await?.into_inner().success}),
        ("topics", "unload") => json!({"success": topics.unload_topic(topic_req()).await?.into_inner().success}),
        ("topics", "subscriptions") => {
            json!({"subscriptions": topics.list_subscriptions(topic_req()).await?.into_inner().subscriptions})
        }
        ("topics", "unsubscribe") => {
            json!({"success": topics.unsubscribe(sub_req()).await?.into_inner().success})
        }
        ("topics", "describe") => {
            let r = topics.describe_topic(admin::DescribeTopicRequest { name: arg(2) }).await?.into_inner();
            json!({"name": r.name, "subscriptions": r.subscriptions, "broker_id": r.broker_id,
                   "delivery": r.delivery, "schema_subject": r.schema_subject, "schema_id": r.schema_id,
                   "schema_version": r.schema_version, "schema_type": r.schema_type,
                   "compatibility_mode": r.compatibility_mode})
        }
        ("topics", "get-failure-policy") => {
            let r = topics
                .get_subscription_failure_policy(admin::GetSubscriptionFailurePolicyRequest {
                    topic: arg(2),
                    subscription: arg(3),
                })
                .await?
                .into_inner();
            json!({"failure_policy": r.failure_policy.as_ref().map(failure_policy),
                   "subscription_type": r.subscription_type})
        }
        ("topics", "set-failure-policy") => {
            let ms = |name: &str, default: u64| {
                opt(name).map(|v| v.parse::<u64>().unwrap_or_else(|_| usage())).unwrap_or(default)
            };
            // Names for the enums, or a raw number (to send values Danube does not define).
            let backoff = match opt("--backoff").as_deref() {
                None | Some("fixed") => admin::SubscriptionBackoffStrategy::Fixed as i32,
                Some("exponential") => admin::SubscriptionBackoffStrategy::Exponential as i32,
                Some(n) => n.parse::<i32>().unwrap_or_else(|_| usage()),
            };
            let poison = match opt("--poison").as_deref() {
                None | Some("block") => admin::SubscriptionPoisonPolicy::Block as i32,
                Some("drop") => admin::SubscriptionPoisonPolicy::Drop as i32,
                Some("dead_letter") => admin::SubscriptionPoisonPolicy::DeadLetter as i32,
                Some(n) => n.parse::<i32>().unwrap_or_else(|_| usage()),
            };
            let policy = admin::SubscriptionFailurePolicy {
                max_redelivery_count: u32::try_from(num(4)).unwrap_or_else(|_| usage()),
                ack_timeout_ms: ms("--ack-timeout", 30000),
                base_redelivery_delay_ms: ms("--base-delay", 1000),
                max_redelivery_delay_ms: ms("--max-delay", 60000),
                backoff_strategy: backoff,
                dead_letter_topic: opt("--dead-letter"),
                poison_policy: poison,
            };
            let req = admin::SetSubscriptionFailurePolicyRequest {
                topic: arg(2),
                subscription: arg(3),
                failure_policy: Some(policy),
            };
            json!({"success": topics.set_subscription_failure_policy(req).await?.into_inner().success})
        }
        ("topics", "get-dispatch-config") => {
            let r = topics
                .get_subscription_dispatch_config(admin::GetSubscriptionDispatchConfigRequest {
                    topic: arg(2),
                    subscription: arg(3),
                })
                .await?
                .into_inner();
            json!({"max_unacked_messages": r.dispatch_config.map(|c| c.max_unacked_messages)})
        }
        ("topics", "set-dispatch-config") => {
            let req = admin::SetSubscriptionDispatchConfigRequest {
                topic: arg(2),
                subscription: arg(3),
                dispatch_config: Some(admin::SubscriptionDispatchConfig {
                    max_unacked_messages: u32::try_from(num(4)).unwrap_or_else(|_| usage()),
                }),
            };
            json!({"success": topics.set_subscription_dispatch_config(req).await?.into_inner().success})
        }
        _ => usage(),
    };
    Ok(out)
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut endpoint = std::env::var("DANUBE_ADMIN_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:50051".into());
    if args.first().map(String::as_str) == Some("--endpoint") {
        if args.len() < 2 {
            usage();
        }
        endpoint = args.remove(1);
        args.remove(0);
    }
    if args.len() < 2 {
        usage();
    }
    if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
        endpoint = format!("http://{endpoint}");
    }
    match run(endpoint, args).await {
        Ok(v) => println!("{v}"),
        Err(s) => {
            eprintln!("error: {}: {}", code_name(s.code()), s.message());
            std::process::exit(1);
        }
    }
}
