//! frazil-danube-rs: drives Danube's Rust client (danube-client 0.15) against a
//! broker, for tests/integration/test_schema_registry_rust.py.
//!
//! Every result is one JSON object per line on stdout. A call that fails prints
//! {"ok": false, "kind": ..., "code": ..., "message": ...} and the process exits
//! with status 1; bad command lines exit with status 2.
//!
//! What the client library offers is used as a user would use it: the schema
//! registry calls of `client.schema()`, the producer's `with_schema_*` binding,
//! the consumer's stream. The registry calls the library has no wrapper for
//! (DeleteSchemaVersion, the per-topic calls, ListSubjects, the full
//! RegisterSchema response) go through the gRPC stubs danube-core 0.15 generates
//! from Danube's own SchemaRegistry.proto, on the client's service channel.

use std::collections::HashMap;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use danube_client::errors::DanubeError;
use danube_client::{
    CompatibilityMode, DanubeClient, SchemaInfo, SchemaReference, SchemaType, SubType, VersionRef,
};
use danube_core::proto::danube_schema::schema_registry_client::SchemaRegistryClient as Stub;
use danube_core::proto::danube_schema::{
    ConfigureTopicSchemaRequest, DeleteSchemaVersionRequest, GetTopicSchemaConfigRequest,
    ListSubjectsRequest, RegisterSchemaRequest, UpdateTopicValidationPolicyRequest,
};
use serde_json::{json, Value};

/// A failure to report: what failed, and the gRPC code when the broker answered one.
struct Failure {
    kind: &'static str,
    code: Option<String>,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            kind: "usage",
            code: None,
            message: message.into(),
        }
    }
    fn to_json(&self) -> Value {
        json!({"ok": false, "kind": self.kind, "code": self.code, "message": self.message})
    }
}

impl From<DanubeError> for Failure {
    fn from(e: DanubeError) -> Self {
        match &e {
            DanubeError::FromStatus(s) => Failure {
                kind: "status",
                code: Some(format!("{:?}", s.code())),
                message: s.message().to_string(),
            },
            DanubeError::SchemaError(m) => Failure {
                kind: "schema",
                code: None,
                message: m.clone(),
            },
            _ => Failure {
                kind: "client",
                code: None,
                message: e.to_string(),
            },
        }
    }
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Self {
        DanubeError::FromStatus(s).into()
    }
}

type Res<T> = std::result::Result<T, Failure>;

/// `--name value` options and bare `--flag`s after the subcommand.
struct Args {
    values: HashMap<String, Vec<String>>,
}

impl Args {
    fn parse(raw: &[String]) -> Res<Self> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut i = 0;
        while i < raw.len() {
            let key = raw[i]
                .strip_prefix("--")
                .ok_or_else(|| Failure::usage(format!("expected an --option, got '{}'", raw[i])))?;
            let value = match raw.get(i + 1) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    v.clone()
                }
                _ => String::new(), // a flag
            };
            values.entry(key.to_string()).or_default().push(value);
            i += 1;
        }
        Ok(Args { values })
    }
    fn opt(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(|v| v.last()).map(String::as_str)
    }
    fn req(&self, key: &str) -> Res<&str> {
        self.opt(key)
            .ok_or_else(|| Failure::usage(format!("--{key} is required")))
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.values.get(key).cloned().unwrap_or_default()
    }
    fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
    fn num<T: FromStr>(&self, key: &str) -> Res<Option<T>> {
        self.opt(key)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| Failure::usage(format!("--{key}: not a number: '{v}'")))
            })
            .transpose()
    }
}

fn emit(v: Value) {
    // One object per line, flushed, so a test reading a running consumer sees it at once.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn schema_type(s: &str) -> Res<SchemaType> {
    SchemaType::from_str(s).map_err(|e| Failure {
        kind: "client",
        code: None,
        message: e,
    })
}

fn mode(s: &str) -> Res<CompatibilityMode> {
    CompatibilityMode::from_str(s).map_err(|e| Failure {
        kind: "client",
        code: None,
        message: e,
    })
}

fn read_file(path: &str) -> Res<Vec<u8>> {
    std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))
}

/// Text when it is UTF-8 (schemas are JSON), base64 otherwise.
fn bytes_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!({"base64": B64.encode(b)}),
    }
}

fn info_json(i: &SchemaInfo) -> Value {
    json!({
        "ok": true,
        "schema_id": i.schema_id,
        "subject": i.subject,
        "version": i.version,
        "schema_type": i.schema_type,
        "definition": bytes_json(&i.schema_definition),
        "fingerprint": i.fingerprint,
    })
}

async fn stub(client: &DanubeClient) -> Res<Stub<tonic::transport::Channel>> {
    Ok(Stub::new(client.get_service_channel().await?))
}

async fn schema_cmd(client: &DanubeClient, cmd: &str, a: &Args) -> Res<Value> {
    let reg = client.schema();
    Ok(match cmd {
        "register" => {
            let subject = a.req("subject")?;
            let t = a.req("type")?;
            let def = match a.opt("file") {
                Some(f) => read_file(f)?,
                None => Vec::new(), // bytes/string/number need no definition
            };
            if a.flag("full") {
                // The stub, to see the whole RegisterSchemaResponse (the builder returns the id only).
                let r = stub(client)
                    .await?
                    .register_schema(RegisterSchemaRequest {
                        subject: subject.to_string(),
                        schema_type: schema_type(t)?.as_str().to_string(),
                        schema_definition: def,
                        description: a.opt("description").unwrap_or_default().to_string(),
                        created_by: "frazil-danube-rs".to_string(),
                        tags: a.all("tag"),
                    })
                    .await?
                    .into_inner();
                json!({"ok": true, "schema_id": r.schema_id, "version": r.version,
                       "is_new_version": r.is_new_version, "fingerprint": r.fingerprint})
            } else {
                let mut b = reg
                    .register_schema(subject)
                    .with_type(schema_type(t)?)
                    .with_schema_data(def);
                if let Some(d) = a.opt("description") {
                    b = b.with_description(d);
                }
                let tags = a.all("tag");
                if !tags.is_empty() {
                    b = b.with_tags(tags);
                }
                json!({"ok": true, "schema_id": b.execute().await?})
            }
        }
        "get" => {
            let id: u64 = a.num("id")?.ok_or_else(|| Failure::usage("--id is required"))?;
            let info = match a.num::<u32>("version")? {
                Some(v) => reg.get_schema_version(id, Some(v)).await?,
                None => reg.get_schema_by_id(id).await?,
            };
            info_json(&info)
        }
        "latest" => info_json(&reg.get_latest_schema(a.req("subject")?).await?),
        "versions" => json!({"ok": true, "versions": reg.list_versions(a.req("subject")?).await?}),
        "check" => {
            let m = a.opt("mode").map(mode).transpose()?;
            let r = reg
                .check_compatibility(
                    a.req("subject")?,
                    read_file(a.req("file")?)?,
                    schema_type(a.req("type")?)?,
                    m,
                )
                .await?;
            json!({"ok": true, "is_compatible": r.is_compatible, "errors": r.errors})
        }
        "set-mode" => {
            let r = reg
                .set_compatibility_mode(a.req("subject")?, mode(a.req("mode")?)?)
                .await?;
            json!({"ok": true, "success": r.success, "message": r.message})
        }
        "delete" => {
            let version: u32 = a
                .num("version")?
                .ok_or_else(|| Failure::usage("--version is required"))?;
            let r = stub(client)
                .await?
                .delete_schema_version(DeleteSchemaVersionRequest {
                    subject: a.req("subject")?.to_string(),
                    version,
                })
                .await?
                .into_inner();
            json!({"ok": true, "success": r.success, "message": r.message})
        }
        "subjects" => {
            let r = stub(client)
                .await?
                .list_subjects(ListSubjectsRequest {})
                .await?
                .into_inner();
            let subjects: Vec<Value> = r
                .subjects
                .iter()
                .map(|s| {
                    json!({"subject": s.subject, "schema_type": s.schema_type,
                           "latest_version": s.latest_version, "compatibility_mode": s.compatibility_mode,
                           "schema_id": s.schema_id, "tags": s.tags})
                })
                .collect();
            json!({"ok": true, "subjects": subjects})
        }
        "configure-topic" => {
            let r = stub(client)
                .await?
                .configure_topic_schema(ConfigureTopicSchemaRequest {
                    topic_name: a.req("topic")?.to_string(),
                    schema_subject: a.req("subject")?.to_string(),
                    validation_policy: a.req("policy")?.to_string(),
                    enable_payload_validation: a.flag("payload-validation"),
                })
                .await?
                .into_inner();
            json!({"ok": true, "success": r.success, "message": r.message})
        }
        "update-policy" => {
            let r = stub(client)
                .await?
                .update_topic_validation_policy(UpdateTopicValidationPolicyRequest {
                    topic_name: a.req("topic")?.to_string(),
                    validation_policy: a.req("policy")?.to_string(),
                    enable_payload_validation: a.flag("payload-validation"),
                })
                .await?
                .into_inner();
            json!({"ok": true, "success": r.success, "message": r.message})
        }
        "topic-config" => {
            let r = stub(client)
                .await?
                .get_topic_schema_config(GetTopicSchemaConfigRequest {
                    topic_name: a.req("topic")?.to_string(),
                })
                .await?
                .into_inner();
            json!({"ok": true, "schema_subject": r.schema_subject, "validation_policy": r.validation_policy,
                   "enable_payload_validation": r.enable_payload_validation, "schema_id": r.schema_id})
        }
        _ => return Err(Failure::usage(format!("unknown command '{cmd}'"))),
    })
}

/// The payloads to send: --payload TEXT and --payload-b64 B64 (repeatable, in
/// that order), then the lines of --file, then --generate N ("msg-0", ...).
fn payloads(a: &Args) -> Res<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = a.all("payload").into_iter().map(String::into_bytes).collect();
    for b in a.all("payload-b64") {
        out.push(
            B64.decode(b.as_bytes())
                .map_err(|e| Failure::usage(format!("--payload-b64: {e}")))?,
        );
    }
    if let Some(f) = a.opt("file") {
        let text = String::from_utf8(read_file(f)?).map_err(|_| Failure::usage("--file: not UTF-8"))?;
        out.extend(text.lines().map(|l| l.as_bytes().to_vec()));
    }
    if let Some(n) = a.num::<usize>("generate")? {
        out.extend((0..n).map(|i| format!("msg-{i}").into_bytes()));
    }
    Ok(out)
}

async fn produce(client: &DanubeClient, a: &Args) -> Res<Value> {
    let topic = a.req("topic")?;
    let mut b = client
        .new_producer()
        .with_topic(topic)
        .with_name(a.opt("name").unwrap_or("frazil-danube-rs"));
    if let Some(subject) = a.opt("subject") {
        // The three bindings the client offers; none given is the client's
        // default for a subject, its latest version.
        b = match (a.num::<u32>("pin")?, a.num::<u32>("min")?) {
            (Some(v), None) => b.with_schema_version(subject, v),
            (None, Some(v)) => b.with_schema_min_version(subject, v),
            (None, None) if a.flag("latest") => b.with_schema_reference(SchemaReference {
                subject: subject.to_string(),
                version_ref: Some(VersionRef::UseLatest(true)),
            }),
            (None, None) => b.with_schema_subject(subject),
            _ => return Err(Failure::usage("--pin and --min exclude each other")),
        };
    }
    if a.flag("reliable") {
        b = b.with_reliable_dispatch();
    }
    if let Some(n) = a.num::<usize>("partitions")? {
        b = b.with_partitions(n);
    }
    let data = payloads(a)?;
    let mut attributes = HashMap::new();
    for kv in a.all("attr") {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Failure::usage("--attr wants key=value"))?;
        attributes.insert(k.to_string(), v.to_string());
    }
    let mut producer = b.build()?;
    if let Err(e) = producer.create().await {
        let mut v = Failure::from(e).to_json();
        v["event"] = json!("create_error");
        emit(v);
        return Ok(Value::Null); // reported; main exits with status 1
    }
    emit(json!({"event": "created", "topic": topic}));
    let (mut acked, mut failed) = (0u64, 0u64);
    for (i, payload) in data.into_iter().enumerate() {
        let attrs = if attributes.is_empty() {
            None
        } else {
            Some(attributes.clone())
        };
        // Each send goes on after a refusal: a test sends bad and good payloads in one run.
        let sent = match a.opt("key") {
            Some(key) => producer.send_with_key(payload, attrs, key).await,
            None => producer.send(payload, attrs).await,
        };
        match sent {
            Ok(id) => {
                acked += 1;
                emit(json!({"event": "ack", "index": i, "message_id": id}));
            }
            Err(e) => {
                failed += 1;
                let mut v = Failure::from(e).to_json();
                v["event"] = json!("send_error");
                v["index"] = json!(i);
                emit(v);
            }
        }
    }
    Ok(json!({"event": "done", "ok": failed == 0, "acked": acked, "failed": failed}))
}

async fn consume(client: &DanubeClient, a: &Args) -> Res<Value> {
    let sub_type = match a.opt("type").unwrap_or("exclusive") {
        "exclusive" => SubType::Exclusive,
        "shared" => SubType::Shared,
        "failover" => SubType::FailOver,
        "key_shared" => SubType::KeyShared,
        other => {
            return Err(Failure::usage(format!(
                "--type: unknown subscription type '{other}'"
            )))
        }
    };
    let count: usize = a.num("count")?.unwrap_or(1);
    let timeout = Duration::from_secs_f64(a.num::<f64>("timeout")?.unwrap_or(10.0));
    // What to do with a message, by payload: nack it (--nack PAYLOAD, with
    // --nack-delay MS and --nack-reason TEXT), or neither ack nor nack it
    // (--ignore PAYLOAD: its ack timeout runs out); everything else is acked.
    let nack: Vec<String> = a.all("nack");
    let ignore: Vec<String> = a.all("ignore");
    let nack_delay = a.num::<u64>("nack-delay")?;
    let nack_reason = a.opt("nack-reason").map(str::to_string);
    let mut consumer = client
        .new_consumer()
        .with_topic(a.req("topic")?)
        .with_consumer_name(a.opt("name").unwrap_or("frazil-danube-rs"))
        .with_subscription(a.req("subscription")?)
        .with_subscription_type(sub_type)
        .build()?;
    consumer.subscribe().await?;
    let mut rx = consumer.receive().await?;
    emit(json!({"event": "subscribed"}));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut received = 0usize;
    while received < count {
        let msg = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => break, // the stream ended
            Err(_) => break,   // timed out
        };
        received += 1;
        emit(json!({
            "event": "message",
            "offset": msg.msg_id.topic_offset,
            "topic": msg.msg_id.topic_name,
            "payload_b64": B64.encode(&msg.payload),
            "schema_id": msg.schema_id,
            "schema_version": msg.schema_version,
            "attributes": msg.attributes,
            "producer_name": msg.producer_name,
            "routing_key": msg.routing_key,
        }));
        let payload = String::from_utf8_lossy(&msg.payload);
        if nack.iter().any(|p| p.as_str() == payload) {
            consumer.nack(&msg, nack_delay, nack_reason.clone()).await?;
        } else if !ignore.iter().any(|p| p.as_str() == payload) {
            consumer.ack(&msg).await?;
        }
    }
    // close() waits for the receive task's lock, which it can hold while the
    // stream is opening; the process ends anyway, so do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(2), consumer.close()).await;
    Ok(json!({"event": "done", "ok": received == count, "received": received}))
}

async fn run(argv: &[String]) -> Res<Value> {
    // frazil-danube-rs --url URL COMMAND [--option value | --flag]...
    if argv.len() < 3 || argv[0] != "--url" {
        return Err(Failure::usage(
            "usage: frazil-danube-rs --url URL COMMAND [--option value]...",
        ));
    }
    let (url, cmd) = (&argv[1], argv[2].as_str());
    let a = Args::parse(&argv[3..])?;
    let client = DanubeClient::builder().service_url(url).build().await?;
    match cmd {
        "produce" => produce(&client, &a).await,
        "consume" => consume(&client, &a).await,
        _ => schema_cmd(&client, cmd, &a).await,
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            emit(
                Failure {
                    kind: "client",
                    code: None,
                    message: e.to_string(),
                }
                .to_json(),
            );
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(&argv)) {
        Ok(Value::Null) => ExitCode::from(1), // already reported (producer creation failed)
        Ok(v) => {
            let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(true);
            emit(v);
            ExitCode::from(if ok { 0 } else { 1 })
        }
        Err(f) => {
            emit(f.to_json());
            ExitCode::from(if f.kind == "usage" { 2 } else { 1 })
        }
    }
}
