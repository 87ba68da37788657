// Broker stress test: many topics, several producers and consumers of every
// subscription type, all speaking the Danube gRPC protocol to a broker
// started in-process (stress_broker.h), while topics are deleted, commits
// and table upkeep run, consumers replay history from the tables and the
// broker is restarted on the same data directory half way through.
//
// Checks, for every topic that is never deleted:
//   - every send the broker acknowledged (SendMessage OK, offset N) is
//     received with the same payload by an Exclusive reliable subscription
//     that started at the earliest offset (no loss), also by subscriptions
//     created later that replay the history from the table;
//   - no offset is acknowledged to two sends;
//   - such a subscription gets no offset twice on one stream unless it was
//     nacked in between, and none that was acknowledged earlier in the same
//     broker lifetime; every nacked message comes back;
// and overall: no crash, every consumer type received messages, deletes
// happened, and the broker shuts down cleanly. Built as a plain program
// (non-zero exit on failure) so it runs the same under ThreadSanitizer.
//
//   broker_stress_test [--seconds=20] [--sync=periodic|always|none] [--dir=PATH]

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "danube_api.grpc.pb.h"
#include "frazil/common/logging.h"
#include "frazil/storage/topic_reader.h"
#include "stress_broker.h"

namespace frazil::stress {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config {
  int seconds = 20;
  int kept_topics = 45;  // never deleted: checked for loss
  int churn_topics = 5;  // deleted again and again while in use
  int producer_threads = 4;
  int typed_topics = 4;    // kept topics that also get Shared, Failover, KeyShared and nacking consumers
  int replay_topics = 10;  // per replay wave
  int drain_seconds = 40;  // for consumers to catch up after the producers stop
  wal::SyncMode sync = wal::SyncMode::kPeriodic;
  std::string dir;
};

// --- failures -----------------------------------------------------------------

std::mutex failures_mu;
std::vector<std::string> failures;

void Fail(const std::string& what) {
  std::lock_guard lock(failures_mu);
  if (failures.size() < 1000) failures.push_back(what);
  if (failures.size() <= 20) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
}

size_t FailureCount() {
  std::lock_guard lock(failures_mu);
  return failures.size();
}

bool Retryable(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::RESOURCE_EXHAUSTED || c == grpc::StatusCode::CANCELLED;
}

std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

// --- the broker, restarted in the middle ---------------------------------------

class Harness {
 public:
  explicit Harness(StressBrokerOptions options) : options_(std::move(options)) {}

  Status Start() {
    std::lock_guard lock(mu_);
    FRAZIL_ASSIGN_OR_RETURN(running_, StartBroker(options_));
    options_.port = running_->port();  // a restart listens on the same port
    return Status::Ok();
  }
  int port() const { return options_.port; }
  // Bumped while the broker is down: a stream that starts and ends in the
  // same epoch talked to one broker lifetime.
  int epoch() const { return epoch_.load(); }

  // Runs `fn` on the live broker; false while it is down.
  bool WithBroker(const std::function<void(broker::Broker*)>& fn) {
    std::lock_guard lock(mu_);
    if (!running_) return false;
    fn(running_->broker());
    return true;
  }

  Status Restart() {
    std::lock_guard lock(mu_);
    Status stopped = running_->Stop();
    running_.reset();
    epoch_++;
    FRAZIL_RETURN_IF_ERROR(stopped);
    FRAZIL_ASSIGN_OR_RETURN(running_, StartBroker(options_));
    return Status::Ok();
  }

  Status Stop() {
    std::lock_guard lock(mu_);
    if (!running_) return Status::Ok();
    Status st = running_->Stop();
    running_.reset();
    return st;
  }

 private:
  StressBrokerOptions options_;
  std::mutex mu_;
  std::unique_ptr<RunningBroker> running_;
  std::atomic<int> epoch_{0};
};

// --- what was acknowledged and what was received --------------------------------

struct Ledger {
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // offset -> payload of the acknowledged send
};

// An Exclusive reliable subscription that started at the earliest offset.
struct Verifier {
  std::string topic, subscription;
  Ledger* ledger = nullptr;

  std::mutex mu;
  std::map<uint64_t, std::string> received;  // offset -> payload
  std::set<uint64_t> awaiting_redelivery;    // nacked (answered OK), not sent again yet
  std::map<uint64_t, int> acked_in_epoch;    // offset -> broker epoch whose Ack answered OK
  uint64_t deliveries = 0, redeliveries = 0, nacks = 0;

  // One delivery on a stream; `seen` holds what this stream delivered so far.
  void OnDelivery(uint64_t offset, const std::string& payload, std::set<uint64_t>* seen) {
    std::lock_guard lock(mu);
    deliveries++;
    bool again = !seen->insert(offset).second;
    bool was_nacked = awaiting_redelivery.erase(offset) > 0;
    if (again || was_nacked) redeliveries++;
    if (again && !was_nacked)
      Fail(topic + "/" + subscription + ": offset " + std::to_string(offset) +
           " delivered twice on one stream without a nack");
    auto [it, inserted] = received.emplace(offset, payload);
    if (!inserted && it->second != payload)
      Fail(topic + "/" + subscription + ": offset " + std::to_string(offset) +
           " delivered with two payloads");
  }

  // At the end of a stream known to have talked to broker lifetime `epoch`.
  void OnStreamEnd(int epoch, const std::set<uint64_t>& seen, const std::set<uint64_t>& acked_before,
                   const std::vector<uint64_t>& acked_here) {
    std::lock_guard lock(mu);
    for (uint64_t o : seen)
      if (acked_before.count(o))
        Fail(topic + "/" + subscription + ": offset " + std::to_string(o) +
             " redelivered after its Ack was answered OK by the same broker");
    for (uint64_t o : acked_here) acked_in_epoch[o] = epoch;
  }

  std::set<uint64_t> AckedIn(int epoch) {
    std::lock_guard lock(mu);
    std::set<uint64_t> out;
    for (auto [o, e] : acked_in_epoch)
      if (e == epoch) out.insert(o);
    return out;
  }

  // Acknowledged sends not received yet.
  size_t Missing(std::vector<uint64_t>* sample = nullptr) {
    std::map<uint64_t, std::string> acked;
    {
      std::lock_guard l(ledger->mu);
      acked = ledger->acked;
    }
    std::lock_guard lock(mu);
    size_t n = 0;
    for (const auto& [o, p] : acked) {
      auto it = received.find(o);
      if (it != received.end() && it->second == p) continue;
      if (it != received.end())
        Fail(topic + "/" + subscription + ": offset " + std::to_string(o) + " received with another payload");
      n++;
      if (sample && sample->size() < 5) sample->push_back(o);
    }
    return n;
  }
};

// --- clients -------------------------------------------------------------------

struct Env {
  Config config;
  Harness* harness = nullptr;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::atomic<bool> stop_producers{false}, stop_consumers{false};

  std::mutex streams_mu;
  std::set<grpc::ClientContext*> streams;  // open consumer streams, cancelled at the end

  std::mutex ids_mu;
  std::set<uint64_t> producer_ids, consumer_ids;  // for health checks

  std::atomic<uint64_t> sends_ok{0}, sends_failed{0}, deletes{0}, health_checks{0};
  std::map<int, std::atomic<uint64_t>> received_by_type;  // ConsumerRequest::SubscriptionType -> messages

  std::shared_ptr<grpc::Channel> Channel(size_t i) { return channels[i % channels.size()]; }

  void AddStream(grpc::ClientContext* ctx) {
    std::lock_guard lock(streams_mu);
    streams.insert(ctx);
    if (stop_consumers) ctx->TryCancel();
  }
  void RemoveStream(grpc::ClientContext* ctx) {
    std::lock_guard lock(streams_mu);
    streams.erase(ctx);
  }
  void CancelStreams() {
    std::lock_guard lock(streams_mu);
    for (auto* ctx : streams) ctx->TryCancel();
  }
};

void SleepUnless(const std::atomic<bool>& stop, milliseconds d) {
  auto until = Clock::now() + d;
  while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::min(d, milliseconds(20)));
}

void Deadline(grpc::ClientContext* ctx, milliseconds d) {
  ctx->set_deadline(std::chrono::system_clock::now() + d);
}

struct ProducerTopic {
  std::string topic;
  bool kept = false;
  Ledger* ledger = nullptr;
  std::string name;
  uint64_t id = 0;
  bool have_id = false;
  uint64_t seq = 0;
};

void RunProducer(Env* env, int index, std::vector<ProducerTopic> topics) {
  auto stub = danube::ProducerService::NewStub(env->Channel(index));
  std::mt19937 rng(index * 7919 + 1);
  while (!env->stop_producers) {
    for (auto& t : topics) {
      if (env->stop_producers) break;
      if (!t.have_id) {
        grpc::ClientContext ctx;
        Deadline(&ctx, milliseconds(10000));
        danube::ProducerRequest req;
        req.set_request_id(1);
        req.set_producer_name(t.name);
        req.set_topic_name(t.topic);
        req.set_dispatch_strategy(t.kept || rng() % 2 ? danube::Reliable : danube::NonReliable);
        danube::ProducerResponse resp;
        grpc::Status st = stub->CreateProducer(&ctx, req, &resp);
        if (!st.ok()) {
          if (t.kept && !Retryable(st.error_code()))
            Fail("CreateProducer on " + t.topic + ": " + Describe(st));
          continue;
        }
        t.id = resp.producer_id();
        t.have_id = true;
        std::lock_guard lock(env->ids_mu);
        env->producer_ids.insert(t.id);
      }
      danube::SentMessage msg;
      msg.set_request_id(++t.seq);
      msg.mutable_msg_id()->set_producer_id(t.id);
      msg.mutable_msg_id()->set_topic_name(t.topic);
      msg.set_producer_name(t.name);
      std::string payload = t.topic + "|" + t.name + "|" + std::to_string(t.seq) + "|";
      payload.append(rng() % 300, static_cast<char>('a' + t.seq % 26));
      msg.set_payload(payload);
      msg.set_routing_key("k" + std::to_string(t.seq % 5));
      auto* attr = msg.add_attributes();
      attr->set_key("seq");
      attr->set_value(std::to_string(t.seq));
      grpc::ClientContext ctx;
      Deadline(&ctx, milliseconds(10000));
      danube::MessageResponse resp;
      grpc::Status st = stub->SendMessage(&ctx, msg, &resp);
      if (st.ok()) {
        env->sends_ok++;
        if (t.kept) {
          std::lock_guard lock(t.ledger->mu);
          if (!t.ledger->acked.emplace(resp.request_id(), payload).second)
            Fail(t.topic + ": offset " + std::to_string(resp.request_id()) + " acknowledged to two sends");
        }
        continue;
      }
      env->sends_failed++;
      if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
        t.have_id = false;  // topic deleted, or the broker forgot the producer
      } else if (Retryable(st.error_code())) {
        SleepUnless(env->stop_producers, milliseconds(20));
      } else if (t.kept) {
        Fail("SendMessage on " + t.topic + ": " + Describe(st));
      }
    }
  }
}

struct ConsumerSpec {
  std::string topic, subscription, name;
  danube::ConsumerRequest::SubscriptionType type = danube::ConsumerRequest::Exclusive;
  bool earliest = false;
  int nack_percent = 0;
  Verifier* verifier = nullptr;  // null: any error is tolerated (churn topics, other types)
  bool strict = false;           // errors other than retryable ones fail the test
};

void RunConsumer(Env* env, int index, ConsumerSpec spec) {
  auto stub = danube::ConsumerService::NewStub(env->Channel(index));
  std::mt19937 rng(index * 104729 + 3);
  auto& received = env->received_by_type.at(spec.type);
  while (!env->stop_consumers) {
    const int epoch_before = env->harness->epoch();
    grpc::ClientContext sctx;
    Deadline(&sctx, milliseconds(10000));
    if (spec.earliest) sctx.AddMetadata("x-frazil-initial-position", "earliest");
    danube::ConsumerRequest req;
    req.set_request_id(1);
    req.set_topic_name(spec.topic);
    req.set_consumer_name(spec.name);
    req.set_subscription(spec.subscription);
    req.set_subscription_type(spec.type);
    danube::ConsumerResponse resp;
    grpc::Status st = stub->Subscribe(&sctx, req, &resp);
    if (!st.ok()) {
      if (spec.strict && !Retryable(st.error_code()))
        Fail("Subscribe " + spec.topic + "/" + spec.subscription + ": " + Describe(st));
      SleepUnless(env->stop_consumers, milliseconds(50));
      continue;
    }
    const uint64_t id = resp.consumer_id();
    {
      std::lock_guard lock(env->ids_mu);
      env->consumer_ids.insert(id);
    }
    std::set<uint64_t> acked_before;
    if (spec.verifier) acked_before = spec.verifier->AckedIn(epoch_before);

    grpc::ClientContext rctx;
    env->AddStream(&rctx);
    danube::ReceiveRequest rreq;
    rreq.set_request_id(2);
    rreq.set_consumer_id(id);
    auto reader = stub->ReceiveMessages(&rctx, rreq);
    std::set<uint64_t> seen, nacked_once;
    std::vector<uint64_t> acked_here;
    danube::StreamMessage m;
    while (reader->Read(&m)) {
      received++;
      const uint64_t offset = m.msg_id().topic_offset();
      if (spec.strict &&
          (m.msg_id().topic_name() != spec.topic || m.subscription_name() != spec.subscription))
        Fail(spec.topic + "/" + spec.subscription + ": message names " + m.msg_id().topic_name() + "/" +
             m.subscription_name());
      if (spec.verifier) spec.verifier->OnDelivery(offset, m.payload(), &seen);
      const bool nack =
          static_cast<int>(rng() % 100) < spec.nack_percent && nacked_once.insert(offset).second;
      if (nack) {
        grpc::ClientContext nctx;
        Deadline(&nctx, milliseconds(10000));
        danube::NackRequest nreq;
        nreq.set_request_id(3);
        *nreq.mutable_msg_id() = m.msg_id();
        nreq.set_subscription_name(spec.subscription);
        if (rng() % 2) nreq.set_delay_ms(rng() % 50);
        danube::NackResponse nresp;
        grpc::Status ns = stub->Nack(&nctx, nreq, &nresp);
        if (ns.ok() && spec.verifier) {
          std::lock_guard lock(spec.verifier->mu);
          spec.verifier->awaiting_redelivery.insert(offset);
          spec.verifier->nacks++;
        } else if (!ns.ok() && spec.strict && !Retryable(ns.error_code())) {
          Fail("Nack " + spec.topic + "/" + spec.subscription + ": " + Describe(ns));
        }
        continue;
      }
      grpc::ClientContext actx;
      Deadline(&actx, milliseconds(10000));
      danube::AckRequest areq;
      areq.set_request_id(4);
      *areq.mutable_msg_id() = m.msg_id();
      areq.set_subscription_name(spec.subscription);
      danube::AckResponse aresp;
      grpc::Status as = stub->Ack(&actx, areq, &aresp);
      if (as.ok()) {
        acked_here.push_back(offset);
      } else if (spec.strict && !Retryable(as.error_code()) &&
                 as.error_code() != grpc::StatusCode::NOT_FOUND) {
        // NOT_FOUND: the broker is restarting and has not loaded the subscription yet.
        Fail("Ack " + spec.topic + "/" + spec.subscription + ": " + Describe(as));
      }
    }
    st = reader->Finish();
    env->RemoveStream(&rctx);
    if (spec.verifier && env->harness->epoch() == epoch_before)
      spec.verifier->OnStreamEnd(epoch_before, seen, acked_before, acked_here);
    // NOT_FOUND: a consumer id from before a restart.
    if (!st.ok() && spec.strict && !Retryable(st.error_code()) &&
        st.error_code() != grpc::StatusCode::NOT_FOUND)
      Fail("stream " + spec.topic + "/" + spec.subscription + ": " + Describe(st));
    SleepUnless(env->stop_consumers, milliseconds(20));
  }
}

void RunHealthChecks(Env* env) {
  auto stub = danube::HealthCheck::NewStub(env->Channel(0));
  while (!env->stop_producers) {
    std::vector<std::pair<bool, uint64_t>> ids;
    {
      std::lock_guard lock(env->ids_mu);
      for (uint64_t id : env->producer_ids) ids.emplace_back(true, id);
      for (uint64_t id : env->consumer_ids) ids.emplace_back(false, id);
    }
    for (auto [producer, id] : ids) {
      if (env->stop_producers) break;
      grpc::ClientContext ctx;
      Deadline(&ctx, milliseconds(5000));
      danube::HealthCheckRequest req;
      req.set_request_id(5);
      req.set_client(producer ? danube::HealthCheckRequest::Producer : danube::HealthCheckRequest::Consumer);
      req.set_id(id);
      danube::HealthCheckResponse resp;
      grpc::Status st = stub->HealthCheck(&ctx, req, &resp);
      if (st.ok())
        env->health_checks++;
      else if (!Retryable(st.error_code()))
        Fail("HealthCheck: " + Describe(st));
    }
    SleepUnless(env->stop_producers, milliseconds(500));
  }
}

void RunDeletes(Env* env, std::vector<std::string> topics) {
  std::mt19937 rng(17);
  size_t next = 0;
  while (!env->stop_producers) {
    SleepUnless(env->stop_producers, milliseconds(500 + rng() % 1000));
    if (env->stop_producers) break;
    const std::string& topic = topics[next++ % topics.size()];
    env->harness->WithBroker([&](broker::Broker* b) {
      Status st = b->DeleteTopic(topic);
      if (st.ok()) env->deletes++;
      // NotFound: not created again since the last delete.
      else if (st.code() != StatusCode::kNotFound)
        Fail("DeleteTopic " + topic + ": " + st.ToString());
    });
  }
}

std::string TopicName(const char* prefix, int i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/stress/%s%02d", prefix, i);
  return buf;
}

// Waits (bounded) until some of `topics` hold their oldest records only in
// the table, so that a subscription starting at the earliest offset must
// replay them from there. Returns each topic's first offset still in its
// WAL (offsets below it can only come from the table).
std::map<std::string, uint64_t> WaitForTableOnlyHistory(Env* env, const std::vector<std::string>& topics,
                                                        milliseconds limit) {
  auto until = Clock::now() + limit;
  std::map<std::string, uint64_t> low_water;
  while (true) {
    bool found = false;
    env->harness->WithBroker([&](broker::Broker* b) {
      for (const auto& t : topics) {
        auto info = b->DescribeTopic(t);
        if (!info.ok()) continue;
        low_water[t] = info->wal.low_water_offset;
        found |= info->wal.low_water_offset > 0;
      }
    });
    if (found || Clock::now() >= until) return low_water;
    std::this_thread::sleep_for(milliseconds(200));
  }
}

int Run(const Config& config) {
  (void)SetLogLevel("warn");
  StressBrokerOptions bo;
  bo.data_dir = config.dir;
  bo.sync_mode = config.sync;
  Harness harness(bo);
  if (Status st = harness.Start(); !st.ok()) {
    std::fprintf(stderr, "cannot start the broker: %s\n", st.ToString().c_str());
    return 1;
  }
  Env env;
  env.config = config;
  env.harness = &harness;
  for (int i = 0; i < 4; i++) {
    grpc::ChannelArguments args;
    // Reconnect quickly after the restart. Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS:
    // gRPC takes it as the minimum connect timeout too, and a handshake under
    // ThreadSanitizer on a loaded machine can take longer than 100 ms, so
    // every attempt timed out "before receiving SETTINGS frame".
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per channel
    env.channels.push_back(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(harness.port()),
                                                     grpc::InsecureChannelCredentials(), args));
  }
  for (int t : {0, 1, 2, 3}) env.received_by_type[t] = 0;

  std::vector<std::string> kept, churn;
  for (int i = 0; i < config.kept_topics; i++) kept.push_back(TopicName("t", i));
  for (int i = 0; i < config.churn_topics; i++) churn.push_back(TopicName("churn", i));
  std::map<std::string, std::unique_ptr<Ledger>> ledgers;
  for (const auto& t : kept) ledgers[t] = std::make_unique<Ledger>();

  // Producers: every topic gets two, each thread serves half the topics.
  const int half = std::max(1, config.producer_threads / 2);
  std::vector<std::vector<ProducerTopic>> per_thread(config.producer_threads);
  for (int p = 0; p < config.producer_threads; p++) {
    int i = 0;
    for (const auto& t : kept) {
      if (i++ % half == p % half)
        per_thread[p].push_back({t, true, ledgers[t].get(), "producer-" + std::to_string(p)});
    }
    for (const auto& t : churn) {
      if (i++ % half == p % half)
        per_thread[p].push_back({t, false, nullptr, "producer-" + std::to_string(p)});
    }
  }
  // Topics are created reliable by their producers before anyone subscribes
  // (a Subscribe would create them non-reliable).
  {
    auto stub = danube::ProducerService::NewStub(env.Channel(0));
    for (const auto& t : kept) {
      grpc::ClientContext ctx;
      Deadline(&ctx, milliseconds(30000));
      ctx.set_wait_for_ready(true);  // the first call also waits for the connection
      danube::ProducerRequest req;
      req.set_producer_name("creator");
      req.set_topic_name(t);
      req.set_dispatch_strategy(danube::Reliable);
      danube::ProducerResponse resp;
      if (grpc::Status st = stub->CreateProducer(&ctx, req, &resp); !st.ok()) {
        std::fprintf(stderr, "creating %s: %s\n", t.c_str(), Describe(st).c_str());
        return 1;
      }
    }
  }

  std::vector<std::unique_ptr<Verifier>> verifiers;
  std::vector<std::thread> consumers;
  int consumer_index = 0;
  auto start_consumer = [&](ConsumerSpec spec) {
    consumers.emplace_back(RunConsumer, &env, consumer_index++, std::move(spec));
  };
  auto start_verifier = [&](const std::string& topic, const std::string& sub, int nack_percent) {
    auto v = std::make_unique<Verifier>();
    v->topic = topic;
    v->subscription = sub;
    v->ledger = ledgers[topic].get();
    ConsumerSpec spec{topic, sub,          sub + "-consumer", danube::ConsumerRequest::Exclusive,
                      true,  nack_percent, v.get(),           true};
    verifiers.push_back(std::move(v));
    start_consumer(std::move(spec));
  };
  for (const auto& t : kept) start_verifier(t, "verify", 2);
  for (int i = 0; i < config.typed_topics && i < config.kept_topics; i++) {
    const std::string& t = kept[i];
    using T = danube::ConsumerRequest;
    for (int c = 0; c < 2; c++) {
      const std::string n = std::to_string(c);
      start_consumer({t, "shared", "shared-" + n, T::Shared, false, 10, nullptr, true});
      start_consumer({t, "failover", "failover-" + n, T::Failover, false, 10, nullptr, true});
      start_consumer({t, "keyshared", "keyshared-" + n, T::KeyShared, false, 10, nullptr, true});
    }
    start_consumer({t, "nacker", "nacker", T::Exclusive, true, 30, nullptr, true});
  }
  for (const auto& t : churn) {
    using T = danube::ConsumerRequest;
    start_consumer({t, "churn-exclusive", "c", T::Exclusive, true, 5, nullptr, false});
    start_consumer({t, "churn-shared", "c", T::Shared, false, 5, nullptr, false});
  }

  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < config.producer_threads; p++)
    producers.emplace_back(RunProducer, &env, p, per_thread[p]);
  std::thread health(RunHealthChecks, &env);
  std::thread deleter(RunDeletes, &env, churn);
  auto elapsed = [&] { return std::chrono::duration_cast<milliseconds>(Clock::now() - t0); };
  const milliseconds run(config.seconds * 1000);

  // Wave A: late subscriptions that replay history from the tables.
  std::map<Verifier*, uint64_t> replay_low_water;  // replay verifier -> WAL low water at its start
  auto wave = [&](int first, const std::string& sub) {
    std::vector<std::string> topics;
    for (int i = first; i < first + config.replay_topics && i < config.kept_topics; i++)
      topics.push_back(kept[i]);
    auto low_water = WaitForTableOnlyHistory(&env, topics, milliseconds(5000));
    bool table_only = false;
    for (auto& [t, lw] : low_water) table_only |= lw > 0;
    std::printf("%6.1fs replay wave %s on %zu topics (%s)\n", elapsed().count() / 1000.0, sub.c_str(),
                topics.size(),
                table_only ? "history partly in the tables only" : "history still in the WALs");
    for (const auto& t : topics) {
      start_verifier(t, sub, 2);
      replay_low_water[verifiers.back().get()] = low_water[t];
    }
    return table_only;
  };
  std::this_thread::sleep_for(run * 3 / 10);
  bool replay_from_table = wave(config.typed_topics, "replay-a");

  std::this_thread::sleep_for(std::max(milliseconds(0), run / 2 - elapsed()));
  std::printf("%6.1fs restarting the broker\n", elapsed().count() / 1000.0);
  std::fflush(stdout);
  const auto r0 = Clock::now();
  if (Status st = harness.Restart(); !st.ok()) {
    Fail("restart: " + st.ToString());
    env.stop_producers = env.stop_consumers = true;
    env.CancelStreams();
    for (auto& th : producers) th.join();
    for (auto& th : consumers) th.join();
    health.join();
    deleter.join();
    return 1;
  }
  std::printf("%6.1fs broker restarted in %.1fs\n", elapsed().count() / 1000.0,
              std::chrono::duration<double>(Clock::now() - r0).count());

  std::this_thread::sleep_for(std::max(milliseconds(0), run * 7 / 10 - elapsed()));
  replay_from_table |= wave(config.typed_topics + config.replay_topics, "replay-b");

  std::this_thread::sleep_for(std::max(milliseconds(0), run - elapsed()));
  env.stop_producers = true;
  for (auto& th : producers) th.join();
  health.join();
  deleter.join();
  std::printf("%6.1fs producers stopped: %llu sends acknowledged, %llu failed; %llu topic deletes\n",
              elapsed().count() / 1000.0, static_cast<unsigned long long>(env.sends_ok.load()),
              static_cast<unsigned long long>(env.sends_failed.load()),
              static_cast<unsigned long long>(env.deletes.load()));
  std::fflush(stdout);

  // Every acknowledged send must reach every verifying subscription.
  const auto drain_until = Clock::now() + std::chrono::seconds(config.drain_seconds);
  size_t missing = 0;
  while (true) {
    missing = 0;
    for (auto& v : verifiers) missing += v->Missing();
    if (missing == 0 || Clock::now() > drain_until) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  std::printf("%6.1fs consumers caught up (%zu acknowledged sends not received)\n",
              elapsed().count() / 1000.0, missing);

  // Figures from the broker before it stops.
  uint64_t commits = 0, compactions = 0, expirations = 0;
  harness.WithBroker([&](broker::Broker* b) {
    for (const auto& info : b->Topics()) {
      commits += info.storage.commits;
      compactions += info.storage.compactions;
      expirations += info.storage.expirations;
    }
  });

  env.stop_consumers = true;
  env.CancelStreams();
  for (auto& th : consumers) th.join();
  if (Status st = harness.Stop(); !st.ok()) Fail("shutdown: " + st.ToString());

  // The checks.
  uint64_t deliveries = 0, redeliveries = 0, nacks = 0, acked = 0;
  for (auto& v : verifiers) {
    std::vector<uint64_t> sample;
    size_t n = v->Missing(&sample);
    if (n) {
      std::string offsets;
      for (uint64_t o : sample) offsets += " " + std::to_string(o);
      Fail(v->topic + "/" + v->subscription + ": " + std::to_string(n) +
           " acknowledged sends never received (offsets" + offsets + " ...)");
    }
    std::lock_guard lock(v->mu);
    if (!v->awaiting_redelivery.empty())
      Fail(v->topic + "/" + v->subscription + ": " + std::to_string(v->awaiting_redelivery.size()) +
           " nacked messages never redelivered (first " + std::to_string(*v->awaiting_redelivery.begin()) +
           ")");
    deliveries += v->deliveries;
    redeliveries += v->redeliveries;
    nacks += v->nacks;
    std::lock_guard l(v->ledger->mu);
    acked += v->subscription == "verify" ? v->ledger->acked.size() : 0;
  }
  if (acked == 0) Fail("no send was acknowledged on the kept topics");
  if (env.deletes == 0) Fail("no topic was deleted");
  using T = danube::ConsumerRequest;
  if (config.typed_topics > 0) {
    for (auto [type, name] : std::vector<std::pair<int, const char*>>{{T::Exclusive, "Exclusive"},
                                                                      {T::Shared, "Shared"},
                                                                      {T::Failover, "Failover"},
                                                                      {T::KeyShared, "KeyShared"}})
      if (env.received_by_type.at(type) == 0) Fail(std::string("no message reached a ") + name + " consumer");
  }
  // Offsets below a topic's WAL low water mark can only have come from its table.
  uint64_t from_tables = 0;
  for (auto& [v, lw] : replay_low_water) {
    std::lock_guard lock(v->mu);
    for (auto it = v->received.begin(); it != v->received.end() && it->first < lw; ++it) from_tables++;
  }
  if (replay_from_table && from_tables == 0)
    Fail("history was in the tables only, yet the replaying subscriptions received none of it");
  const auto& replay = storage::GlobalReplayCounters();

  std::printf(
      "%6.1fs done: %llu acknowledged sends on kept topics; verifiers: %llu deliveries, %llu redeliveries, "
      "%llu nacks; by type: exclusive %llu, shared %llu, failover %llu, key-shared %llu; %llu health checks; "
      "table: %llu commits, %llu compactions, %llu expirations, %llu messages replayed from tables only "
      "(reader counters: %llu rows from %llu files)\n",
      elapsed().count() / 1000.0, static_cast<unsigned long long>(acked),
      static_cast<unsigned long long>(deliveries), static_cast<unsigned long long>(redeliveries),
      static_cast<unsigned long long>(nacks),
      static_cast<unsigned long long>(env.received_by_type.at(T::Exclusive).load()),
      static_cast<unsigned long long>(env.received_by_type.at(T::Shared).load()),
      static_cast<unsigned long long>(env.received_by_type.at(T::Failover).load()),
      static_cast<unsigned long long>(env.received_by_type.at(T::KeyShared).load()),
      static_cast<unsigned long long>(env.health_checks.load()), static_cast<unsigned long long>(commits),
      static_cast<unsigned long long>(compactions), static_cast<unsigned long long>(expirations),
      static_cast<unsigned long long>(from_tables), static_cast<unsigned long long>(replay.rows_read.load()),
      static_cast<unsigned long long>(replay.files_read.load()));
  size_t n = FailureCount();
  if (n) {
    std::printf("FAILED: %zu failure(s); the first ones are above\n", n);
    return 1;
  }
  std::printf("PASSED\n");
  return 0;
}

}  // namespace
}  // namespace frazil::stress

int main(int argc, char** argv) {
  frazil::stress::Config config;
  if (const char* s = std::getenv("FRAZIL_STRESS_SECONDS")) config.seconds = std::atoi(s);
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--seconds=")) {
      config.seconds = std::atoi(v);
    } else if (const char* v = value("--dir=")) {
      config.dir = v;
    } else if (const char* v = value("--sync=")) {
      auto mode = frazil::wal::ParseSyncMode(v);
      if (!mode.ok()) {
        std::fprintf(stderr, "--sync: %s\n", mode.status().ToString().c_str());
        return 2;
      }
      config.sync = *mode;
    } else {
      std::fprintf(stderr, "usage: %s [--seconds=N] [--sync=always|periodic|none] [--dir=PATH]\n", argv[0]);
      return 2;
    }
  }
  if (config.seconds < 4) config.seconds = 4;
  bool temp = config.dir.empty();
  if (temp) {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/frazil-stress-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    config.dir = tmpl;
  }
  int rc = frazil::stress::Run(config);
  if (temp && rc == 0) {
    std::error_code ec;
    std::filesystem::remove_all(config.dir, ec);
  } else if (rc != 0) {
    std::fprintf(stderr, "data directory kept: %s\n", config.dir.c_str());
  }
  return rc;
}
