// The ConsumerService of the Danube protocol: Subscribe, the
// ReceiveMessages stream that delivers a subscription's messages to one
// consumer, and Ack/Nack, all on gRPC's callback API: no thread per stream
// and no polling. A stream is woken by its subscription (ready callback)
// when a message may be ready, writes while messages are ready (coalescing
// with buffer hints) and sleeps otherwise.
#include <atomic>
#include <chrono>
#include <optional>

#include "frazil/broker/grpc_services.h"
#include "frazil/broker/topic_name.h"
#include "frazil/common/executor.h"
#include "frazil/common/logging.h"
#include "frazil/common/mutex.h"
#include "frazil/common/tsan_annotations.h"

namespace frazil::broker {
namespace {

class ConsumerServiceImpl;

// Coalesced writes are flushed at least every this many bytes, gRPC's
// framing included. gRPC completes a write made with its buffer hint at
// once only while what it holds unsent stays within its write buffer
// (GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, 64 KiB - 1 by default); past that,
// the write completes when the connection is next written, which nothing
// starts until the client sends something (an ack, a health check). A
// replay stalled there before its first message for messages of some
// sizes: so half of gRPC's default, whatever server the service is in.
constexpr size_t kMaxUnflushedBytes = 32 << 10;
// gRPC's length-prefixed framing of each message on the stream.
constexpr size_t kGrpcFrameBytes = 5;

// One ReceiveMessages stream. gRPC deletes nothing: the stream deletes
// itself once gRPC has called OnDone and no wake-up is running in it.
class MessageStream final : public grpc::ServerWriteReactor<danube::StreamMessage> {
 public:
  MessageStream(ConsumerServiceImpl* service, Executor* executor, uint64_t consumer_id)
      : service_(service), executor_(executor), id_(consumer_id), handle_(std::make_shared<Handle>(this)) {
    // gRPC runs the reactions on its threads after synchronization TSan
    // cannot see (libgrpc is not instrumented): make the construction
    // visibly happen before them.
    TsanRelease(this);
  }

  // Attaches to the subscription and writes what is ready.
  void Start();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What the subscription's ready callback holds: the stream while it
  // lives. Enter/Exit bracket every call into the stream from outside
  // gRPC's reactions, so it is never deleted while one runs (even if gRPC
  // runs OnDone inline from a Finish such a call makes).
  struct Handle {
    explicit Handle(MessageStream* s) : stream(s) {}
    Mutex mu;
    MessageStream* stream GUARDED_BY(mu);
    int entered GUARDED_BY(mu) = 0;
    bool done GUARDED_BY(mu) = false;    // OnDone ran
    bool posted GUARDED_BY(mu) = false;  // a wake-up is queued on the executor

    MessageStream* Enter() EXCLUDES(mu) {
      MutexLock lock(&mu);
      if (done || !stream) return nullptr;
      ++entered;
      return stream;
    }
    void Exit() EXCLUDES(mu) {
      MessageStream* dead = nullptr;
      {
        MutexLock lock(&mu);
        if (--entered == 0 && done) std::swap(dead, stream);
      }
      delete dead;
    }
    // OnDone: true if the caller deletes the stream now.
    bool MarkDone() EXCLUDES(mu) {
      MutexLock lock(&mu);
      done = true;
      if (entered > 0) return false;
      stream = nullptr;
      return true;
    }
  };

  // The subscription's ready callback: cheap, any thread, maybe under
  // other components' locks, so the work goes to the executor.
  static void Wake(const std::shared_ptr<Handle>& h, Executor* executor);
  // Pump, if the stream is still there. Takes the handle by value: the
  // stream (which holds it too) may be deleted on the way out.
  static void RunPump(std::shared_ptr<Handle> h);
  // Writes while messages are ready and no write is in flight; finishes
  // the stream once it is to end. Runs in one thread at a time.
  void Pump() EXCLUDES(mu_);
  void EndWith(grpc::Status s) EXCLUDES(mu_);
  void Build(const Delivery& d);

  ConsumerServiceImpl* const service_;
  Executor* const executor_;
  const uint64_t id_;
  const std::shared_ptr<Handle> handle_;
  // Set by Start, read-only after.
  Broker::ConsumerRef ref_;
  bool attached_ = false;
  uint64_t registration_ = 0;

  Mutex mu_;
  bool running_ GUARDED_BY(mu_) = false;  // a thread is in Pump's loop
  bool again_ GUARDED_BY(mu_) = false;    // woken while running: look again
  bool writing_ GUARDED_BY(mu_) = false;  // a write is in flight
  bool finished_ GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_ GUARDED_BY(mu_);  // how the stream is to end
  grpc::Status result_;                              // set before Finish, read in OnDone
  std::optional<Delivery> lookahead_ GUARDED_BY(mu_);
  danube::StreamMessage msg_;   // the write in flight (touched only by the running Pump)
  size_t unflushed_bytes_ = 0;  // written with a buffer hint since the last flush (Pump only)
  bool wrote_ = false;          // a message went out (Pump only)
};

class ConsumerServiceImpl final : public danube::ConsumerService::CallbackService {
 public:
  ConsumerServiceImpl(Broker* b, std::string url, Executor* executor)
      : broker_(b), url_(std::move(url)), executor_(executor) {}

  // Inline when the topic is open; otherwise on the broker's rpc executor,
  // since subscribing then opens the topic (WAL recovery, catalog load) and
  // gRPC's callback threads must not wait on I/O.
  grpc::ServerUnaryReactor* Subscribe(grpc::CallbackServerContext* ctx, const danube::ConsumerRequest* req,
                                      danube::ConsumerResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto subscribe = [this, reactor, ctx, req, resp] {
      reactor->Finish(Counted(broker_, DoSubscribe(ctx, req, resp)));
    };
    if (broker_->TopicExists(req->topic_name()))
      subscribe();
    else
      broker_->rpc_executor()->Post(std::move(subscribe));
    return reactor;
  }

  grpc::ServerWriteReactor<danube::StreamMessage>* ReceiveMessages(
      grpc::CallbackServerContext*, const danube::ReceiveRequest* req) override {
    auto* stream = new MessageStream(this, executor_, req->consumer_id());
    stream->Start();
    return stream;
  }

  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const danube::AckRequest* req,
                                danube::AckResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(Counted(broker_, DoAck(req, resp)));
    return reactor;
  }

  grpc::ServerUnaryReactor* Nack(grpc::CallbackServerContext* ctx, const danube::NackRequest* req,
                                 danube::NackResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(Counted(broker_, DoNack(req, resp)));
    return reactor;
  }

  Broker* broker() const { return broker_; }
  const std::string& url() const { return url_; }
  uint64_t NextRequestId() { return ++request_ids_; }

 private:
  grpc::Status DoSubscribe(grpc::CallbackServerContext* ctx, const danube::ConsumerRequest* req,
                           danube::ConsumerResponse* resp) {
    if (req->subscription_type() < 0 || req->subscription_type() > 3)
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "unknown subscription type " + std::to_string(req->subscription_type())};
    if (auto st = CheckText("consumer_name", req->consumer_name(), kMaxNameBytes); !st.ok())
      return Invalid(st);
    if (auto st = CheckText("subscription", req->subscription(), kMaxNameBytes); !st.ok()) return Invalid(st);
    for (const auto& f : req->key_filters())
      if (auto st = CheckText("key_filters", f, kMaxKeyBytes); !st.ok()) return Invalid(st);
    std::vector<std::string> filters(req->key_filters().begin(), req->key_filters().end());
    // Frazil's own clients may ask a new subscription to start at the oldest
    // message; Danube clients start at the end.
    bool earliest = false;
    auto pos = ctx->client_metadata().find(kInitialPositionHeader);
    if (pos != ctx->client_metadata().end()) {
      std::string v(pos->second.data(), pos->second.size());
      if (v != "earliest" && v != "latest")
        return {grpc::StatusCode::INVALID_ARGUMENT,
                std::string(kInitialPositionHeader) + " must be earliest or latest"};
      earliest = v == "earliest";
    }
    auto id = broker_->Subscribe(req->topic_name(), req->subscription(), req->consumer_name(),
                                 static_cast<SubscriptionType>(req->subscription_type()), std::move(filters),
                                 earliest);
    if (!id.ok()) return ToGrpc(id.status());
    resp->set_request_id(req->request_id());
    resp->set_consumer_id(*id);
    resp->set_consumer_name(req->consumer_name());
    return grpc::Status::OK;
  }

  grpc::Status DoAck(const danube::AckRequest* req, danube::AckResponse* resp) {
    auto sub = broker_->FindSubscription(req->msg_id().topic_name(), req->subscription_name());
    if (!sub.ok())
      return UnknownSubscription(sub.status(), req->msg_id().topic_name(), req->subscription_name());
    if (Status s = (*sub)->Ack(req->msg_id().topic_offset()); !s.ok()) return ToGrpc(s);
    resp->set_request_id(req->request_id());
    return grpc::Status::OK;
  }

  grpc::Status DoNack(const danube::NackRequest* req, danube::NackResponse* resp) {
    auto sub = broker_->FindSubscription(req->msg_id().topic_name(), req->subscription_name());
    if (!sub.ok())
      return UnknownSubscription(sub.status(), req->msg_id().topic_name(), req->subscription_name());
    auto delay = std::chrono::milliseconds(req->has_delay_ms() ? req->delay_ms() : 0);
    if (Status s = (*sub)->Nack(req->msg_id().topic_offset(), delay, req->has_reason() ? req->reason() : "");
        !s.ok())
      return ToGrpc(s);
    resp->set_request_id(req->request_id());
    return grpc::Status::OK;
  }

  Broker* broker_;
  std::string url_;
  Executor* executor_;
  std::atomic<uint64_t> request_ids_{0};
};

void MessageStream::Start() {
  auto ref = service_->broker()->Consumer(id_);
  if (!ref.ok()) {
    EndWith(ToGrpc(ref.status()));
  } else {
    ref_ = std::move(ref).value();
    // The callback is registered before attaching, so no wake-up is missed.
    registration_ = ref_.sub->SetReady(id_, [h = handle_, ex = executor_] { Wake(h, ex); });
    ref_.sub->Attach(id_);
    service_->broker()->SetStreaming(id_, true);
    attached_ = true;
    // The stream ends as it does when the broker stops: Subscription::Close
    // wakes it (StopAccepting closes every subscription).
    if (service_->broker()->shutting_down()) EndWith(grpc::Status::OK);
  }
  RunPump(handle_);
}

void MessageStream::Wake(const std::shared_ptr<Handle>& h, Executor* executor) {
  {
    MutexLock lock(&h->mu);
    if (h->done || h->posted) return;
    h->posted = true;
  }
  executor->Post([h] {
    {
      MutexLock lock(&h->mu);
      h->posted = false;
    }
    RunPump(h);
  });
}

void MessageStream::RunPump(std::shared_ptr<Handle> h) {
  if (MessageStream* s = h->Enter()) {
    s->Pump();
    h->Exit();
  }
}

void MessageStream::EndWith(grpc::Status s) {
  MutexLock lock(&mu_);
  if (!end_) end_ = std::move(s);
}

void MessageStream::Build(const Delivery& d) {
  const storage::StoredMessage& m = *d.message;
  msg_.Clear();
  msg_.set_request_id(service_->NextRequestId());
  auto* mid = msg_.mutable_msg_id();
  mid->set_producer_id(m.producer_id);
  mid->set_topic_name(ref_.topic);
  mid->set_broker_addr(service_->url());
  mid->set_topic_offset(d.offset);
  msg_.set_payload(m.payload);
  msg_.set_publish_time(static_cast<uint64_t>(m.publish_time_ms));
  msg_.set_producer_name(m.producer_name);
  msg_.set_subscription_name(ref_.subscription);
  auto* attributes = msg_.mutable_attributes();
  for (const auto& [k, v] : m.attributes) (*attributes)[k] = v;
  if (m.schema_id) msg_.set_schema_id(*m.schema_id);
  if (m.schema_version) msg_.set_schema_version(*m.schema_version);
  if (m.routing_key) msg_.set_routing_key(*m.routing_key);
}

void MessageStream::Pump() {
  {
    MutexLock lock(&mu_);
    if (running_) {
      again_ = true;
      return;
    }
    running_ = true;
  }
  for (;;) {
    std::optional<Delivery> d;
    {
      MutexLock lock(&mu_);
      again_ = false;
      // One write at a time: OnWriteDone pumps on.
      if (finished_ || writing_) {
        running_ = false;
        return;
      }
      if (end_) {
        // Unsent messages (the look-ahead) are pending in the subscription
        // and go to others on Detach.
        finished_ = true;
        running_ = false;
        result_ = *end_;
        lock.Unlock();
        // Errors returned to the client count by kind, as the unary calls' do.
        if (!result_.ok() && result_.error_code() != grpc::StatusCode::CANCELLED)
          (void)Counted(service_->broker(), result_);
        // OnDone (a gRPC thread, ordered after Finish inside libgrpc) reads result_.
        TsanRelease(this);
        Finish(result_);  // may run OnDone inline: nothing of `this` is touched after
        return;
      }
      d = std::move(lookahead_);
      lookahead_.reset();
    }
    if (!d) {
      auto got = ref_.sub->Poll(id_);
      if (!got.ok()) {
        // The subscription closed (topic deleted, broker stopping): the
        // stream ends as it always has, with OK; other errors are reported.
        EndWith(got.status().code() == StatusCode::kClosed ? grpc::Status::OK : ToGrpc(got.status()));
        continue;
      }
      d = std::move(got).value();
    }
    if (!d) {
      MutexLock lock(&mu_);
      if (again_ || end_) continue;
      running_ = false;
      return;
    }
    // Another message ready: this one may wait in gRPC's buffer for it,
    // up to a bound, so that a long run of messages (a replay) still
    // reaches the client in pieces. An error here comes back on the next Poll.
    std::optional<Delivery> next;
    if (auto peek = ref_.sub->Poll(id_); peek.ok()) next = std::move(peek).value();
    Build(*d);
    grpc::WriteOptions options;
    unflushed_bytes_ += msg_.ByteSizeLong() + kGrpcFrameBytes;
    // Never the first write: it carries the stream's initial metadata, and
    // gRPC completes that only once it is on the wire, which a buffered
    // write does not start (the first message then waited for the
    // client's next request).
    if (next && wrote_ && unflushed_bytes_ < kMaxUnflushedBytes) {
      options.set_buffer_hint();
    } else {
      unflushed_bytes_ = 0;
    }
    {
      MutexLock lock(&mu_);
      lookahead_ = std::move(next);
      writing_ = true;
    }
    wrote_ = true;
    StartWrite(&msg_, options);
  }
}

void MessageStream::OnWriteDone(bool ok) {
  TsanAcquire(this);
  {
    MutexLock lock(&mu_);
    writing_ = false;
    // The client went away; what it was sent and did not ack is redelivered on Detach.
    if (!ok && !end_) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
  }
  // The next message is built and written on the dispatch executor, not
  // on gRPC's callback thread: those threads also run producers' requests,
  // which a long replay (a write per message) must not queue behind, and
  // the dispatch threads may run at a lower priority (executors.dispatch_nice).
  Wake(handle_, executor_);
}

void MessageStream::OnCancel() {
  TsanAcquire(this);
  EndWith(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  RunPump(handle_);
}

void MessageStream::OnDone() {
  TsanAcquire(this);
  if (attached_) {
    ref_.sub->ClearReady(id_, registration_);
    ref_.sub->Detach(id_);
    service_->broker()->SetStreaming(id_, false);
    // The client sees only the status; the operator needs to know too.
    if (!result_.ok() && result_.error_code() != grpc::StatusCode::CANCELLED)
      FRAZIL_LOG_WARN("topic {}: stream of consumer '{}' (id {}) of subscription '{}' ended with {}: {}",
                      ref_.topic, ref_.consumer, id_, ref_.subscription, StatusCodeName(result_.error_code()),
                      result_.error_message());
  }
  if (handle_->MarkDone()) delete this;
}

}  // namespace

std::unique_ptr<grpc::Service> MakeConsumerService(Broker* broker, std::string advertised_url) {
  return std::make_unique<ConsumerServiceImpl>(broker, std::move(advertised_url), DefaultDispatchExecutor());
}

}  // namespace frazil::broker
