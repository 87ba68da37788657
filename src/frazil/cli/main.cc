// The frazil binary: one executable, subcommands.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>

#include "frazil/cli/admin_commands.h"
#include "frazil/cli/client_commands.h"
#include "frazil/common/logging.h"
#include "frazil/common/memory_release.h"
#include "frazil/server/config.h"
#include "frazil/server/serve.h"

int main(int argc, char** argv) {
  // The broker's commits (16 threads on a 2-core machine) allocate and free
  // many small blocks (metadata JSON, manifests); with glibc's 7 cached per
  // size and thread, the rest went to the one arena's lock: a third of
  // the commit threads' futex calls, and commits of 10,000 new topics fell
  // behind (docs/benchmarks.md, "Scale"). GLIBC_TUNABLES set by the user wins.
  if (argc > 1 && std::strcmp(argv[1], "serve") == 0) frazil::ReexecWithMallocThreadCache(argv);
  // Blocks of a MiB or more (row-group, page and batch buffers of commits
  // and compaction) are mapped for themselves and unmapped when freed, so
  // they never sit in the heap between small messages, which is what kept
  // a replay's RSS high while compaction ran beside it (+46 MB against +29
  // with this; docs/benchmarks.md, "Replay"). Setting it also stops glibc
  // raising the threshold to 32 MiB after the first such free. Mapping a
  // MiB costs its page faults, little beside what fills it.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  frazil::InitLogging();
  CLI::App app{"Frazil: a Danube-protocol pub/sub broker whose storage is Apache Iceberg"};
  app.require_subcommand(1);

  frazil::server::ServeConfig defaults;
  std::string config_file, data_dir, listen, advertise, http, admin, log_level, warehouse;
  auto* serve = app.add_subcommand("serve", "Run a broker (standalone with embedded defaults)");
  serve->add_option("--config", config_file, "YAML configuration file (see config/frazil.yaml)");
  serve->add_option("--data-dir", data_dir, "Data directory (default " + defaults.data_dir + ")");
  serve->add_option("--listen", listen,
                    "Danube protocol address HOST:PORT (default " + defaults.listen + ")");
  serve->add_option("--advertise", advertise,
                    "HOST:PORT clients are told to connect to (default: the --listen address; for a wildcard "
                    "listen address, this machine's host name)");
  serve->add_option("--http", http, "HTTP address for /healthz and /metrics (default " + defaults.http + ")");
  serve->add_option(
      "--admin", admin,
      "Danube admin services (danube-admin) address HOST:PORT (default " + defaults.admin + ")");
  serve->add_option("--warehouse", warehouse,
                    "Where new tables go (storage.warehouse): s3://bucket/prefix (see the s3 section of "
                    "config/frazil.yaml), file:///path or a path (default file://DATA_DIR/warehouse)");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default info)");
  // The catalog section's main keys; secrets (credential, token, AWS keys)
  // only in the config file or the environment, not on a command line
  // every user of the machine can read.
  frazil::server::CatalogConfig cat_flags;
  cat_flags.type.clear();
  cat_flags.name.clear();
  serve->add_option("--catalog-type", cat_flags.type,
                    "Where tables are recorded (catalog.type): sql (embedded, default), rest or glue");
  serve->add_option("--catalog-name", cat_flags.name, "The catalog's name (catalog.name, default frazil)");
  serve->add_option("--catalog-uri", cat_flags.uri,
                    "REST catalog server (catalog.uri), e.g. http://host:8181");
  serve->add_option("--catalog-warehouse", cat_flags.warehouse,
                    "REST: the warehouse asked for (catalog.warehouse)");
  serve->add_option("--catalog-region", cat_flags.region, "Glue: the AWS region (catalog.region)");
  serve->add_option("--catalog-endpoint", cat_flags.endpoint,
                    "Glue: the endpoint (catalog.endpoint; default https://glue.REGION.amazonaws.com)");

  frazil::cli::ProduceArgs pa;
  auto* produce = app.add_subcommand("produce", "Send messages to a topic (Danube protocol)");
  produce->add_option("-s,--service-addr", pa.server, "Broker address (default " + pa.server + ")");
  produce->add_option("-t,--topic", pa.topic, "Topic, /namespace/name")->required();
  produce->add_option("-m,--message", pa.message, "Message payload");
  produce->add_option("-f,--file", pa.file, "Read the payload from this file");
  produce->add_option("-c,--count", pa.count, "Number of messages (default 1)");
  produce->add_option("-i,--interval", pa.interval_ms,
                      "Milliseconds between messages (default 500; 0 allowed)");
  produce->add_option("-a,--attributes", pa.attributes, "Attributes k1:v1,k2:v2");
  produce->add_option("-k,--routing-key", pa.routing_key, "Routing key");
  produce->add_option("--partitions", pa.partitions, "Partition the topic into N partitions");
  produce->add_flag("--reliable", pa.reliable, "Reliable dispatch (acknowledged, redelivered, cursors kept)");
  produce->add_option("-n,--producer-name", pa.producer_name, "Producer name (default frazil-cli-PID)");

  frazil::cli::ConsumeArgs ca;
  auto* consume = app.add_subcommand("consume", "Receive and acknowledge messages (Danube protocol)");
  consume->add_option("-s,--service-addr", ca.server, "Broker address (default " + ca.server + ")");
  consume->add_option("-t,--topic", ca.topic, "Topic, /namespace/name")->required();
  consume->add_option("-m,--subscription", ca.subscription, "Subscription name")->required();
  consume->add_option("--sub-type", ca.sub_type, "exclusive, shared (default), failover or key_shared");
  consume->add_option("-c,--count", ca.max_messages,
                      "Stop after this many messages (default: run until killed)");
  consume->add_option("--from", ca.from, "Where a new subscription starts: earliest or latest (default)");
  consume->add_option("-n,--consumer-name", ca.consumer_name, "Consumer name (default frazil-cli-PID)");

  frazil::cli::TopicsArgs ta;
  auto* topics = app.add_subcommand(
      "topics", "List, describe, create and delete topics and subscriptions (HTTP admin API)");
  topics->require_subcommand(1);
  auto add_common = [&ta](CLI::App* cmd) {
    cmd->add_option("--http", ta.http, "The broker's HTTP address (default " + ta.http + ")");
    cmd->add_flag("--json", ta.json, "Print the admin API's JSON");
  };
  auto* topics_list = topics->add_subcommand("list", "List topics with their WAL range and committed offset");
  add_common(topics_list);
  auto* topics_describe = topics->add_subcommand(
      "describe",
      "WAL range and size, table snapshot and committed offset, subscriptions with cursor and lag");
  topics_describe->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  add_common(topics_describe);
  auto* topics_delete =
      topics->add_subcommand("delete", "Delete a topic: its table and files, WAL and subscriptions");
  topics_delete->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  add_common(topics_delete);

  auto* topics_create = topics->add_subcommand(
      "create", "Create a topic (or a partitioned topic: --partitions N) without producing to it");
  topics_create->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  topics_create->add_option("--partitions", ta.partitions, "Partitions /namespace/name-part-0..N-1");
  topics_create->add_flag("--reliable", ta.reliable,
                          "Reliable dispatch (acknowledged, redelivered, cursors kept)");
  add_common(topics_create);
  auto* topics_subs = topics->add_subcommand("subscriptions", "List a topic's subscriptions");
  topics_subs->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  add_common(topics_subs);
  auto* topics_unsub = topics->add_subcommand(
      "unsubscribe", "Delete a subscription: its consumers are detached, its cursor lost");
  topics_unsub->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  topics_unsub->add_option("subscription", ta.subscription, "Subscription name")->required();
  add_common(topics_unsub);
  auto* topics_retention = topics->add_subcommand(
      "retention",
      "Show or set a topic's retention: whole data files past the age or size limit leave its table");
  topics_retention->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  topics_retention->add_option("--max-age-ms", ta.max_age_ms, "Age limit in ms (0: no limit)");
  topics_retention->add_option("--max-bytes", ta.max_bytes,
                               "Size limit of the table's data files (0: no limit)");
  topics_retention->add_flag("--default", ta.retention_default, "Back to the broker's default retention");
  add_common(topics_retention);
  auto* topics_policy = topics->add_subcommand("failure-policy",
                                               "Show or set a reliable subscription's failure policy (ack "
                                               "timeout, redeliveries, block/drop/dead-letter)");
  topics_policy->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  topics_policy->add_option("subscription", ta.subscription, "Subscription name")->required();
  topics_policy->add_option(
      "--set", ta.set,
      "key=value (max_redelivery_count, ack_timeout_ms, base_redelivery_delay_ms, "
      "max_redelivery_delay_ms, backoff_strategy, poison_policy, dead_letter_topic); the "
      "rest take Danube's defaults");
  add_common(topics_policy);
  auto* topics_dispatch = topics->add_subcommand(
      "dispatch-config", "Show or set a reliable subscription's max unacknowledged messages");
  topics_dispatch->add_option("topic", ta.topic, "Topic, /namespace/name")->required();
  topics_dispatch->add_option("subscription", ta.subscription, "Subscription name")->required();
  topics_dispatch->add_option("--max-unacked", ta.max_unacked, "Set max_unacked_messages (1..10000)");
  add_common(topics_dispatch);

  auto* namespaces = app.add_subcommand("namespaces", "List, create and delete namespaces (HTTP admin API)");
  namespaces->require_subcommand(1);
  auto* ns_list = namespaces->add_subcommand("list", "List namespaces");
  add_common(ns_list);
  auto* ns_create = namespaces->add_subcommand("create", "Create a namespace");
  ns_create->add_option("namespace", ta.ns, "Namespace name")->required();
  add_common(ns_create);
  auto* ns_delete = namespaces->add_subcommand("delete", "Delete an empty namespace");
  ns_delete->add_option("namespace", ta.ns, "Namespace name")->required();
  add_common(ns_delete);
  auto* ns_topics = namespaces->add_subcommand("topics", "List a namespace's topics");
  ns_topics->add_option("namespace", ta.ns, "Namespace name")->required();
  add_common(ns_topics);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; any usage error exits 2, as the commands do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (topics_list->parsed()) return frazil::cli::RunTopicsList(ta);
  if (topics_describe->parsed()) return frazil::cli::RunTopicsDescribe(ta);
  if (topics_delete->parsed()) return frazil::cli::RunTopicsDelete(ta);
  if (topics_create->parsed()) return frazil::cli::RunTopicsCreate(ta);
  if (topics_subs->parsed()) return frazil::cli::RunTopicsSubscriptions(ta);
  if (topics_unsub->parsed()) return frazil::cli::RunTopicsUnsubscribe(ta);
  if (topics_retention->parsed()) return frazil::cli::RunTopicsRetention(ta);
  if (topics_policy->parsed()) return frazil::cli::RunTopicsFailurePolicy(ta);
  if (topics_dispatch->parsed()) return frazil::cli::RunTopicsDispatchConfig(ta);
  if (ns_list->parsed()) return frazil::cli::RunNamespacesList(ta);
  if (ns_create->parsed()) return frazil::cli::RunNamespacesCreate(ta);
  if (ns_delete->parsed()) return frazil::cli::RunNamespacesDelete(ta);
  if (ns_topics->parsed()) return frazil::cli::RunNamespacesTopics(ta);

  if (produce->parsed()) return frazil::cli::RunProduce(pa);
  if (consume->parsed()) return frazil::cli::RunConsume(ca);

  if (serve->parsed()) {
    frazil::server::ServeConfig config;
    if (!config_file.empty()) {
      if (auto st = frazil::server::LoadConfigFile(config_file, &config); !st.ok()) {
        std::cerr << "frazil serve: " << st.message() << "\n";
        return 2;
      }
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!listen.empty()) config.listen = listen;
    if (!advertise.empty()) config.advertised_address = advertise;
    if (!http.empty()) config.http = http;
    if (!admin.empty()) config.admin = admin;
    if (!log_level.empty()) config.log_level = log_level;
    if (!warehouse.empty()) config.storage.warehouse = warehouse;
    frazil::server::CatalogConfig& cc = config.catalog;
    for (auto [flag, field] :
         {std::pair{&cat_flags.type, &cc.type}, std::pair{&cat_flags.name, &cc.name},
          std::pair{&cat_flags.uri, &cc.uri}, std::pair{&cat_flags.warehouse, &cc.warehouse},
          std::pair{&cat_flags.region, &cc.region}, std::pair{&cat_flags.endpoint, &cc.endpoint}})
      if (!flag->empty()) *field = *flag;
    if (auto st = cc.Validate(); !st.ok()) {
      std::cerr << "frazil serve: " << st.message() << "\n";
      return 2;
    }
    if (auto st = frazil::SetLogLevel(config.log_level); !st.ok()) {
      std::cerr << "frazil serve: " << st.message() << "\n";
      return 2;
    }
    if (auto st = config.wal.ToOptions(config.WalRoot()).Validate(); !st.ok()) {
      std::cerr << "frazil serve: " << st.message() << "\n";
      return 2;
    }
    return frazil::server::RunServe(config);
  }
  return 0;
}
