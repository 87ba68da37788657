// S3ObjectStore against a real S3 server on loopback (gofakes3 behind our
// tests/s3server main, which also verifies every request's Signature
// Version 4), and against our fault-injecting proxy in front of it. Run by
// the `s3` stage of scripts/run-tests.sh (ctest label s3), which builds the
// server first; without the server these tests fail, they do not skip.
#include "frazil/objstore/s3_object_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "frazil/objstore/object_store_file_io.h"
#include "frazil/objstore/object_store_stats.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"
#include "s3_server.h"

namespace frazil::objstore {
namespace {

constexpr char kKey[] = "FRAZILTESTKEY";
constexpr char kSecret[] = "frazil/test+secret";
constexpr char kBucket[] = "frazil-test";

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string Text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// What the process-wide S3 counters (for /metrics) did since it was made.
class StatsDelta {
 public:
  StatsDelta() : before_(Take()) {}
  uint64_t requests(StoreOp op) const { return Take().requests[Index(op)] - before_.requests[Index(op)]; }
  uint64_t retries(RetryReason r) const { return Take().retries[Index(r)] - before_.retries[Index(r)]; }
  uint64_t errors(ErrorKind k) const { return Take().errors[Index(k)] - before_.errors[Index(k)]; }
  uint64_t all_retries() const {
    uint64_t n = 0;
    for (size_t i = 0; i < kRetryReasons; ++i) n += retries(static_cast<RetryReason>(i));
    return n;
  }
  uint64_t all_errors() const {
    uint64_t n = 0;
    for (size_t i = 0; i < kErrorKinds; ++i) n += errors(static_cast<ErrorKind>(i));
    return n;
  }
  uint64_t read_bytes() const { return Take().read - before_.read; }
  uint64_t written_bytes() const { return Take().written - before_.written; }
  uint64_t timed_requests() const { return Take().timed - before_.timed; }

 private:
  struct Values {
    std::array<uint64_t, kStoreOps> requests{};
    std::array<uint64_t, kRetryReasons> retries{};
    std::array<uint64_t, kErrorKinds> errors{};
    uint64_t read = 0, written = 0, timed = 0;
  };
  template <class E>
  static size_t Index(E e) {
    return static_cast<size_t>(e);
  }
  static Values Take() {
    const ObjectStoreStats& s = GlobalObjectStoreStats(StoreKind::kS3);
    Values v;
    for (size_t i = 0; i < kStoreOps; ++i) v.requests[i] = s.requests[i].load();
    for (size_t i = 0; i < kRetryReasons; ++i) v.retries[i] = s.retries[i].load();
    for (size_t i = 0; i < kErrorKinds; ++i) v.errors[i] = s.errors[i].load();
    v.read = s.read_bytes.load();
    v.written = s.written_bytes.load();
    v.timed = s.request_duration.Read().count;
    return v;
  }
  Values before_;
};

S3Config ConfigFor(const std::string& endpoint) {
  S3Config c;
  c.endpoint = endpoint;
  c.region = "us-east-1";
  c.path_style = true;
  c.access_key_id = kKey;
  c.secret_access_key = kSecret;
  c.connect_timeout_ms = 2'000;
  c.request_timeout_ms = 10'000;
  c.max_attempts = 6;
  c.retry_base_delay_ms = 5;
  c.retry_max_delay_ms = 50;
  c.multipart_part_size = 5 << 20;
  c.multipart_parallelism = 3;
  return c;
}

std::unique_ptr<S3ObjectStore> OpenStore(const S3Config& c, const std::string& bucket = kBucket) {
  auto s = S3ObjectStore::Open(c, bucket);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::S3ServerProcess>(
        std::vector<std::string>{"--access-key", kKey, "--secret-key", kSecret});
    ASSERT_FALSE(server_->address().empty()) << server_->error();
    store_ = OpenStore(ConfigFor(server_->endpoint()));
    ASSERT_NE(store_, nullptr);
    auto created = store_->Execute(S3ObjectStore::Call{"PUT", "", {}, {}, {}});  // CreateBucket
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  // Multipart uploads the server still has open in the bucket.
  size_t OpenUploads() {
    auto r = store_->Execute(S3ObjectStore::Call{"GET", "", {{"uploads", ""}}, {}, {}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return 0;
    std::string body = r->BodyText();
    size_t n = 0;
    for (size_t pos = 0; (pos = body.find("<Upload>", pos)) != std::string::npos; ++pos) ++n;
    return n;
  }

  std::unique_ptr<testing::S3ServerProcess> server_;
  std::unique_ptr<S3ObjectStore> store_;
};

// A request that failed transiently `attempts` times: Unavailable, saying
// so and naming `also` (the object, or the server's last error), after
// attempts - 1 retries.
void ExpectGaveUp(const Status& st, const S3ObjectStore& store, int64_t attempts, const std::string& also) {
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("gave up after " + std::to_string(attempts) + " attempts"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find(also), std::string::npos) << st.message();
  EXPECT_EQ(store.retries(), attempts - 1);
}

TEST_F(S3ObjectStoreTest, PutGetRangedGetHead) {
  // Characters that need encoding in the path, to check our signing of them.
  const std::string key = "dir/a b$c+d=e&f.txt";
  StatsDelta stats;
  ASSERT_TRUE(store_->PutIfAbsent(key, Bytes("hello, object store")).ok());
  auto all = store_->Get(key);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Text(*all), "hello, object store");
  auto part = store_->GetRange(key, 7, 6);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(Text(*part), "object");
  EXPECT_EQ(store_->GetRange(key, 15, 10).status().code(), StatusCode::kOutOfRange);
  auto head = store_->Head(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 19u);
  EXPECT_GT(head->modified_ms, 1'500'000'000'000);

  auto missing = store_->Get("dir/missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("s3://frazil-test/dir/missing"), std::string::npos)
      << missing.status().message();
  EXPECT_EQ(store_->Head("dir/missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->retries(), 0);

  // The process-wide counters /metrics renders.
  EXPECT_EQ(stats.requests(StoreOp::kPut), 1u);
  EXPECT_EQ(stats.requests(StoreOp::kGet), 2u);
  EXPECT_EQ(stats.requests(StoreOp::kGetRange), 2u);
  EXPECT_EQ(stats.requests(StoreOp::kHead), 2u);
  EXPECT_EQ(stats.written_bytes(), 19u);
  // The whole object, the 6 bytes of the range, and the 4 the server had
  // from offset 15 (the answer is an error, but its bytes came).
  EXPECT_EQ(stats.read_bytes(), 19u + 6u + 4u);
  EXPECT_EQ(stats.timed_requests(), 7u);
  EXPECT_EQ(stats.errors(ErrorKind::kNotFound), 2u);
  EXPECT_EQ(stats.all_errors(), 2u);
  EXPECT_EQ(stats.all_retries(), 0u);
}

// The server's own byte accounting (GET /__stats), which the benchmarks
// use to measure what a reader fetched: a ranged GET counts the range's
// bytes only, a whole GET and a PUT the object's; also by key extension.
TEST_F(S3ObjectStoreTest, ServerCountsBodyBytesByKind) {
  const std::string object(1000, 'x');
  ASSERT_TRUE(store_->PutIfAbsent("stats/object.parquet", Bytes(object)).ok());
  ASSERT_TRUE(store_->Get("stats/object.parquet").ok());
  ASSERT_TRUE(store_->GetRange("stats/object.parquet", 200, 100).ok());
  net::HttpClient http(net::HttpClientOptions{});
  auto stats = http.Send(net::HttpRequest{"GET", server_->endpoint() + "/__stats", {}, {}});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  const std::string body = stats->BodyText();
  for (const char* want : {R"("get_object":{"requests":1,"bytes_sent":1000,"bytes_received":0})",
                           R"("get_range":{"requests":1,"bytes_sent":100,"bytes_received":0})",
                           R"("put_object":{"requests":1,"bytes_sent":0,"bytes_received":1000})",
                           R"("get_body_bytes_sent":1100)", R"("put_body_bytes_received":1000)",
                           // The same, by the key's extension.
                           R"("by_extension":{"parquet":{"get_object":{"requests":1,"bytes_sent":1000,)"})
    EXPECT_NE(body.find(want), std::string::npos) << want << " not in " << body;
}

TEST_F(S3ObjectStoreTest, CreateIfAbsentKeepsTheFirstObject) {
  ASSERT_TRUE(store_->PutIfAbsent("meta/v1.json", Bytes("first")).ok());
  Status again = store_->PutIfAbsent("meta/v1.json", Bytes("second"));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_NE(again.message().find("s3://frazil-test/meta/v1.json"), std::string::npos) << again.message();
  EXPECT_EQ(Text(store_->Get("meta/v1.json").value()), "first");
}

TEST_F(S3ObjectStoreTest, ListFollowsContinuationTokens) {
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(store_->PutIfAbsent("t/data/f" + std::to_string(i), Bytes("x")).ok());
  ASSERT_TRUE(store_->PutIfAbsent("t/data/.hidden", Bytes("h")).ok());
  ASSERT_TRUE(store_->PutIfAbsent("u/other", Bytes("o")).ok());
  store_->set_list_page_size(2);
  int64_t before = store_->requests_sent();
  auto listed = store_->List("t/data/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ((*listed)[static_cast<size_t>(i)].key, "t/data/f" + std::to_string(i));
    EXPECT_EQ((*listed)[static_cast<size_t>(i)].size, 1u);
  }
  EXPECT_GE(store_->requests_sent() - before, 4);  // 8 keys, 2 a page
  EXPECT_EQ(store_->List("t/data/", true).value().size(), 8u);
  EXPECT_TRUE(store_->List("nothing/").value().empty());
}

TEST_F(S3ObjectStoreTest, MultipartUploadsPartsInParallel) {
  // 3 full parts of 5 MiB and a short last one, appended in odd sizes.
  std::string data;
  for (size_t i = 0; data.size() < (15u << 20) + 12345; ++i) data += "block " + std::to_string(i) + "\n";
  auto w = store_->NewObject("big/object.bin");
  ASSERT_TRUE(w.ok());
  for (size_t off = 0; off < data.size(); off += 777'777) {
    size_t n = std::min<size_t>(777'777, data.size() - off);
    ASSERT_TRUE((*w)->Append(Bytes(data.substr(off, n))).ok());
  }
  EXPECT_EQ((*w)->Position(), data.size());
  EXPECT_EQ(store_->Head("big/object.bin").status().code(), StatusCode::kNotFound);  // nothing before Commit
  Status st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GE(store_->max_parts_in_flight(), 2);
  EXPECT_EQ(store_->Head("big/object.bin").value().size, data.size());
  auto got = store_->Get("big/object.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(Text(*got) == data) << "content differs";
  EXPECT_EQ(Text(store_->GetRange("big/object.bin", 5u << 20, 100).value()), data.substr(5u << 20, 100));
  EXPECT_EQ(OpenUploads(), 0u);
}

// Threads of this process (/proc/self/status).
int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
  return -1;
}

// Committers upload many files at once: their parts share one bounded pool
// of threads instead of each writer starting a thread per part.
TEST_F(S3ObjectStoreTest, OneAppendSpanningPartsAndAnObjectOfExactlyOnePart) {
  std::string data;
  for (size_t i = 0; data.size() < (10u << 20) + 3; ++i) data += std::to_string(i * 7919) + ",";
  data.resize((10u << 20) + 3);
  for (const auto& [key, size] : {std::pair<std::string, size_t>{"span/two-parts-and-3", data.size()},
                                  std::pair<std::string, size_t>{"span/one-part", 5u << 20}}) {
    auto w = store_->NewObject(key);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Bytes(data.substr(0, size))).ok());  // one call for all of it
    EXPECT_EQ((*w)->Position(), size);
    Status st = (*w)->Commit();
    ASSERT_TRUE(st.ok()) << key << ": " << st.ToString();
    auto got = store_->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(Text(*got) == data.substr(0, size)) << key << ": content differs";
  }
  EXPECT_EQ(OpenUploads(), 0u);
}

TEST_F(S3ObjectStoreTest, ConcurrentMultipartWritersShareABoundedPool) {
  constexpr int kWriters = 6;  // each 3 parts of 5 MiB, all 3 in flight (parallelism 3)
  const std::string part(5u << 20, 'p');
  const int before = ThreadCount();
  ASSERT_GT(before, 0);
  std::atomic<bool> done{false};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    while (!done.load()) {
      int n = ThreadCount();
      int seen = most.load();
      while (n > seen && !most.compare_exchange_weak(seen, n)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> ok{0};
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      auto w = store_->NewObject("pool/" + std::to_string(i));
      if (!w.ok()) return;
      for (int p = 0; p < 3; ++p)
        if (!(*w)->Append(Bytes(part)).ok()) return;
      if ((*w)->Commit().ok()) ok.fetch_add(1);
    });
  }
  for (auto& t : writers) t.join();
  done.store(true);
  sampler.join();
  EXPECT_EQ(ok.load(), kWriters);
  for (int i = 0; i < kWriters; ++i)
    EXPECT_EQ(store_->Head("pool/" + std::to_string(i)).value().size, 3 * part.size());
  // The sampler and the writers, plus at most the pool's threads (and a
  // few of libcurl's or the runtime's): not a thread per part in flight.
  const int extra = most.load() - before - 1 - kWriters;
  EXPECT_LE(extra, S3ObjectStore::kUploadThreads + 2)
      << "threads beyond the writers: " << extra << " (a thread per part would be up to " << kWriters * 3
      << ")";
  EXPECT_EQ(OpenUploads(), 0u);
}

TEST_F(S3ObjectStoreTest, MultipartOntoAnExistingKeyIsAbortedAndReportsAlreadyExists) {
  ASSERT_TRUE(store_->PutIfAbsent("big/taken", Bytes("small")).ok());
  auto w = store_->NewObject("big/taken");
  ASSERT_TRUE(w.ok());
  std::string chunk(6u << 20, 'z');
  ASSERT_TRUE((*w)->Append(Bytes(chunk)).ok());
  EXPECT_EQ((*w)->Commit().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->multipart_uploads_aborted(), 1);
  EXPECT_EQ(OpenUploads(), 0u);
  EXPECT_EQ(Text(store_->Get("big/taken").value()), "small");
}

TEST_F(S3ObjectStoreTest, AbandonedWriterAbortsItsUpload) {
  {
    auto w = store_->NewObject("big/abandoned");
    ASSERT_TRUE(w.ok());
    std::string chunk(11u << 20, 'a');
    ASSERT_TRUE((*w)->Append(Bytes(chunk)).ok());
  }  // destroyed without Commit
  EXPECT_EQ(store_->multipart_uploads_aborted(), 1);
  EXPECT_EQ(OpenUploads(), 0u);
  EXPECT_EQ(store_->Head("big/abandoned").status().code(), StatusCode::kNotFound);
}

TEST_F(S3ObjectStoreTest, DeleteAndBatchDelete) {
  for (const char* k : {"d/1", "d/2", "d/3", "d/4", "keep/5"})
    ASSERT_TRUE(store_->PutIfAbsent(k, Bytes(k)).ok());
  ASSERT_TRUE(store_->Delete("d/1").ok());
  EXPECT_EQ(store_->Head("d/1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("d/1").ok());  // missing is fine
  Status st = store_->DeleteMany({"d/2", "d/3", "d/4", "d/never-existed"});
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(store_->List("d/").value().empty());
  EXPECT_EQ(store_->List("keep/").value().size(), 1u);
}

TEST_F(S3ObjectStoreTest, ConnectionsAreReused) {
  int64_t before = store_->http().connections_opened();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store_->PutIfAbsent("reuse/" + std::to_string(i), Bytes("r")).ok());
  EXPECT_LE(store_->http().connections_opened() - before, 1);
}

TEST_F(S3ObjectStoreTest, WrongCredentialsAreAClearErrorNotRetried) {
  S3Config bad = ConfigFor(server_->endpoint());
  bad.secret_access_key = "not-the-secret";
  auto store = OpenStore(bad);
  ASSERT_NE(store, nullptr);
  StatsDelta stats;
  auto r = store->Get("any/key");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("access denied"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("SignatureDoesNotMatch"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("s3://frazil-test/any/key"), std::string::npos) << r.status().message();
  EXPECT_EQ(store->retries(), 0);

  S3Config unknown = ConfigFor(server_->endpoint());
  unknown.access_key_id = "NOSUCHKEY";
  auto store2 = OpenStore(unknown);
  Status st = store2->CheckBucket();
  EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
  EXPECT_EQ(store2->retries(), 0);
  EXPECT_EQ(stats.errors(ErrorKind::kDenied), 2u);
  EXPECT_EQ(stats.requests(StoreOp::kHeadBucket), 1u);
  EXPECT_EQ(stats.all_retries(), 0u);
}

TEST_F(S3ObjectStoreTest, MissingBucketIsAClearErrorNotRetried) {
  auto store = OpenStore(ConfigFor(server_->endpoint()), "no-such-bucket");
  Status st = store->CheckBucket();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("bucket 'no-such-bucket' does not exist"), std::string::npos) << st.message();
  auto put = store->PutIfAbsent("k", Bytes("v"));
  EXPECT_EQ(put.code(), StatusCode::kNotFound);
  EXPECT_NE(put.message().find("no-such-bucket"), std::string::npos) << put.message();
  auto list = store->List("p/");
  EXPECT_EQ(list.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->retries(), 0);
  EXPECT_TRUE(store_->CheckBucket().ok());
}

TEST_F(S3ObjectStoreTest, FileIOResolvesS3LocationsInEverySpelling) {
  ObjectStoreFileIO io(NewLocalObjectStore(), ConfigFor(server_->endpoint()));
  ASSERT_TRUE(io.WriteNew("s3://frazil-test/wh/ns/t/metadata/v1.json", Bytes("{}")).ok());
  EXPECT_EQ(io.WriteNew("s3a://frazil-test/wh/ns/t/metadata/v1.json", Bytes("{ }")).code(),
            StatusCode::kAlreadyExists);  // same object under another spelling
  EXPECT_EQ(Text(io.Read("s3n://frazil-test/wh/ns/t/metadata/v1.json").value()), "{}");

  auto out = io.NewOutput("s3://frazil-test/wh/ns/t/data/f.parquet");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_TRUE((*out)->Write(Bytes("PAR1....PAR1")).ok());
  ASSERT_TRUE((*out)->Close().ok());
  auto in = io.OpenInput("s3://frazil-test/wh/ns/t/data/f.parquet");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ((*in)->Size(), 12u);
  std::vector<uint8_t> tail(4);
  ASSERT_TRUE((*in)->ReadAt(8, tail).ok());
  EXPECT_EQ(Text(tail), "PAR1");

  auto listed = io.List("s3a://frazil-test/wh/ns/t/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].location, "s3a://frazil-test/wh/ns/t/data/f.parquet");
  EXPECT_EQ((*listed)[1].location, "s3a://frazil-test/wh/ns/t/metadata/v1.json");

  ASSERT_TRUE(io.Delete("s3://frazil-test/wh/ns/t/data/f.parquet").ok());
  EXPECT_EQ(io.List("s3://frazil-test/wh/ns/t/data/").value().size(), 0u);

  auto bad = io.Read("s3://Bad_Bucket/x");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("malformed S3 URI"), std::string::npos) << bad.status().message();
  ObjectStoreFileIO local_only(NewLocalObjectStore());
  auto unconfigured = local_only.Read("s3://frazil-test/wh/x");
  EXPECT_EQ(unconfigured.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unconfigured.status().message().find("no S3 configuration"), std::string::npos);
}

// Replay reads a data file on S3 by ranged GETs of what it needs: the
// footer in one request (no HEAD: the manifest gives the size), then the
// column chunks of the row groups selected, in blocks of s3.read_ahead_bytes,
// never the row groups before the offset it starts from.
TEST_F(S3ObjectStoreTest, DataFilesAreReadByRangedGetsOfTheRowGroupsNeeded) {
  S3Config config = ConfigFor(server_->endpoint());
  config.read_ahead_bytes = 256 << 10;
  ObjectStoreFileIO io(NewLocalObjectStore(), config);
  const std::string loc = "s3://frazil-test/wh/ns/t/data/replay.parquet";
  parquet::FileSchema schema;
  schema.fields.push_back(
      {"offset", 1, true, parquet::FieldSchema::Shape::kPrimitive, {parquet::ValueType::kInt64}});
  schema.fields.push_back(
      {"payload", 2, true, parquet::FieldSchema::Shape::kPrimitive, {parquet::ValueType::kBinary}});
  parquet::WriterOptions options;
  options.row_group_bytes = 1 << 20;
  options.page_bytes = 16 << 10;
  constexpr int kRows = 40000;
  uint64_t state = 42;
  auto payload = [&state]() {  // incompressible, so the file is as large as its payloads
    std::string p(200, '\0');
    for (auto& c : p) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      c = static_cast<char>(state >> 56);
    }
    return p;
  };
  {
    auto sink = io.NewOutput(loc);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    auto w = parquet::FileWriter::Open(schema, options, std::move(sink).value());
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int first = 0; first < kRows; first += 1000) {
      parquet::RowBatch b;
      b.num_rows = 1000;
      b.columns.resize(2);
      for (int i = 0; i < 1000; ++i) {
        b.columns[0].values.ints.push_back(first + i);
        b.columns[1].values.bytes.push_back(payload());
      }
      ASSERT_TRUE((*w)->Write(b).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  const uint64_t size = store_->Head("wh/ns/t/data/replay.parquet").value().size;
  ASSERT_GT(size, 7u << 20);

  StatsDelta stats;
  auto in = io.OpenInput(loc, size);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  auto reader = parquet::FileReader::Open(std::move(in).value());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(stats.requests(StoreOp::kHead), 0u);
  EXPECT_EQ(stats.requests(StoreOp::kGetRange), 1u);  // the footer
  ASSERT_GE((*reader)->num_row_groups(), 6u);

  constexpr int64_t kFrom = kRows * 3 / 4;
  const auto groups = (*reader)->SelectRowGroups(1, kFrom, INT64_MAX);
  ASSERT_FALSE(groups.empty());
  ASSERT_LT(groups.size(), (*reader)->num_row_groups() / 2);
  uint64_t wanted = 0, blocks = 0;
  for (size_t g : groups)
    for (const auto& c : (*reader)->metadata().row_groups[g].columns) {
      const uint64_t chunk = static_cast<uint64_t>(c.meta_data->total_compressed_size);
      wanted += chunk;
      // Each GET brings a block less a page (16 KiB and its header) of new
      // bytes at least; a page larger than the block (the dictionary) alone.
      blocks += chunk / ((256 << 10) - (20 << 10)) + 2;
    }
  const uint64_t before_rows = stats.read_bytes();
  int64_t next = -1;
  for (size_t g : groups) {
    auto rows = (*reader)->OpenRowGroup(g);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    while ((*rows)->rows_left() > 0) {
      auto got = (*rows)->Next(512);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      for (size_t i = 0; i < got->num_rows; ++i) {
        const int64_t offset = got->columns[0].values.ints[i];
        if (next >= 0) {
          ASSERT_EQ(offset, next);
        }
        next = offset + 1;
        ASSERT_EQ(got->columns[1].values.bytes[i].size(), 200u);
      }
    }
  }
  EXPECT_EQ(next, kRows);
  const uint64_t fetched = stats.read_bytes() - before_rows;
  EXPECT_EQ(fetched, wanted);  // each byte of the chunks once, nothing else
  EXPECT_LT(fetched, size / 2);
  EXPECT_LE(stats.requests(StoreOp::kGetRange), 1 + blocks);
  EXPECT_EQ(stats.requests(StoreOp::kGet), 0u);
  std::printf(
      "file %llu bytes in %zu row groups; replay of the last quarter fetched %llu bytes (%.2f of the "
      "row groups read) in %llu ranged GETs\n",
      static_cast<unsigned long long>(size), (*reader)->num_row_groups(),
      static_cast<unsigned long long>(fetched), static_cast<double>(fetched) / static_cast<double>(wanted),
      static_cast<unsigned long long>(stats.requests(StoreOp::kGetRange)));
}

// A data file whose object is shorter than its manifest says (damaged or
// replaced behind the catalog's back) reads as corrupt, naming it, not as
// a bad request.
TEST_F(S3ObjectStoreTest, DataFileShorterThanItsManifestSaysIsCorrupt) {
  ObjectStoreFileIO io(NewLocalObjectStore(), ConfigFor(server_->endpoint()));
  const std::string loc = "s3://frazil-test/wh/ns/t/data/short.parquet";
  ASSERT_TRUE(io.WriteNew(loc, Bytes(std::string(180, 'x'))).ok());
  auto in = io.OpenInput(loc, 200000);  // what the manifest said
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  auto reader = parquet::FileReader::Open(std::move(in).value());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kCorruption) << reader.status().ToString();
  EXPECT_NE(reader.status().message().find("short.parquet"), std::string::npos) << reader.status().message();
}

// A loopback port with nothing listening (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(S3ObjectStoreFailureTest, UnreachableEndpointGivesUpWithinTheRetryBudget) {
  S3Config c = ConfigFor("http://127.0.0.1:" + std::to_string(ClosedPort()));
  c.max_attempts = 3;
  auto store = OpenStore(c);
  StatsDelta stats;
  auto r = store->Get("k");
  ASSERT_FALSE(r.ok());
  ExpectGaveUp(r.status(), *store, 3, "s3://frazil-test/k");
  EXPECT_EQ(stats.requests(StoreOp::kGet), 3u);
  EXPECT_EQ(stats.retries(RetryReason::kConnection), 2u);
  EXPECT_EQ(stats.all_retries(), 2u);
  EXPECT_EQ(stats.errors(ErrorKind::kUnavailable), 1u);
}

TEST(S3ObjectStoreFailureTest, ServerThatNeverAnswersTimesOut) {
  // Accepts connections (the kernel does, from the backlog) but never reads.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  S3Config c = ConfigFor("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  c.request_timeout_ms = 300;
  c.max_attempts = 2;
  auto store = OpenStore(c);
  StatsDelta stats;
  auto start = std::chrono::steady_clock::now();
  auto r = store->Head("k");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  // Two attempts of 0.3 s: far below this bound unless a request hangs.
  EXPECT_LT(elapsed, std::chrono::seconds(20));
  EXPECT_EQ(stats.retries(RetryReason::kTimeout), 1u);
  EXPECT_EQ(stats.all_retries(), 1u);
  EXPECT_EQ(stats.errors(ErrorKind::kUnavailable), 1u);
}

class S3FaultProxyTest : public S3ObjectStoreTest {
 protected:
  std::unique_ptr<S3ObjectStore> ThroughProxy(std::vector<std::string> faults, int max_attempts) {
    faults.insert(faults.begin(), {"--upstream", server_->endpoint()});
    proxy_ = std::make_unique<testing::S3ServerProcess>(faults);
    EXPECT_FALSE(proxy_->address().empty()) << proxy_->error();
    S3Config c = ConfigFor(proxy_->endpoint());
    c.max_attempts = max_attempts;
    return OpenStore(c);
  }
  std::unique_ptr<testing::S3ServerProcess> proxy_;
};

TEST_F(S3FaultProxyTest, TransientFaultsAreRetriedAndCounted) {
  // 1 dropped connection, 2 x 503, 1 x SlowDown, then the real server.
  auto store = ThroughProxy({"--fail-503", "2", "--slowdown", "1", "--drop", "1"}, 6);
  ASSERT_NE(store, nullptr);
  StatsDelta stats;
  Status st = store->PutIfAbsent("retried/object", Bytes("made it"));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store->retries(), 4);
  EXPECT_EQ(store->requests_sent(), 5);
  // By reason, as injected; every attempt sent the body.
  EXPECT_EQ(stats.retries(RetryReason::kConnection), 1u);
  EXPECT_EQ(stats.retries(RetryReason::kServerError), 2u);
  EXPECT_EQ(stats.retries(RetryReason::kThrottled), 1u);
  EXPECT_EQ(stats.retries(RetryReason::kTimeout), 0u);
  EXPECT_EQ(stats.requests(StoreOp::kPut), 5u);
  EXPECT_EQ(stats.written_bytes(), 5u * 7u);
  EXPECT_EQ(stats.all_errors(), 0u);
  // The proxy's own count of what it injected.
  net::HttpClient http(net::HttpClientOptions{});
  auto faults = http.Send(net::HttpRequest{"GET", proxy_->endpoint() + "/__faults", {}, {}});
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  EXPECT_EQ(faults->BodyText(), "4\n");
  EXPECT_EQ(Text(store_->Get("retried/object").value()), "made it");  // straight from the server
}

TEST_F(S3FaultProxyTest, RetriedCreateThatLandedIsNotAConflict) {
  // The first PUT creates the object but its answer is lost; the retry
  // meets 412 and must recognise its own object (same ETag = MD5).
  auto store = ThroughProxy({"--lose-responses", "1"}, 4);
  ASSERT_NE(store, nullptr);
  StatsDelta stats;
  Status st = store->PutIfAbsent("lost/answer", Bytes("mine"));
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store->retries(), 1);
  EXPECT_EQ(stats.retries(RetryReason::kConnection), 1u);
  EXPECT_EQ(stats.all_retries(), 1u);
  // The retry's 412 was recognised as our own object: a conflict the
  // caller never saw, but a failed call all the same.
  EXPECT_EQ(stats.errors(ErrorKind::kConflict), 1u);
  EXPECT_EQ(Text(store_->Get("lost/answer").value()), "mine");
}

TEST_F(S3FaultProxyTest, CreateResentByLibcurlThatLandedIsNotAConflict) {
  // A 503 answer keeps its connection open; the PUT that reuses it has its
  // answer lost, and libcurl re-sends it by itself (a reused connection
  // that closed before any answer): our first attempt meets 412 from its
  // own object.
  auto store = ThroughProxy({"--fail-503", "1", "--lose-responses", "1"}, 1);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Get("warm/up").status().code(), StatusCode::kUnavailable);  // the 503
  Status st = store->PutIfAbsent("resent/answer", Bytes("mine"));
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Text(store_->Get("resent/answer").value()), "mine");
  // A different object at the key is still a conflict.
  EXPECT_EQ(store->PutIfAbsent("resent/answer", Bytes("other")).code(), StatusCode::kAlreadyExists);
}

TEST_F(S3FaultProxyTest, LostAnswerToCreateMultipartLeavesNoUploadBehind) {
  // The first CreateMultipartUpload starts an upload but its answer is
  // lost; the retry starts a second. The first is aborted, the second
  // completes: no upload is left open.
  auto store = ThroughProxy({"--lose-responses", "1"}, 4);
  ASSERT_NE(store, nullptr);
  auto w = store->NewObject("big/lost-create");
  ASSERT_TRUE(w.ok());
  std::string chunk(11u << 20, 'c');
  ASSERT_TRUE((*w)->Append(Bytes(chunk)).ok());
  Status st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store->retries(), 1);
  EXPECT_EQ(store->multipart_uploads_aborted(), 1);
  EXPECT_EQ(OpenUploads(), 0u);
  EXPECT_EQ(store_->Head("big/lost-create").value().size, chunk.size());
}

TEST_F(S3FaultProxyTest, ExhaustedRetryBudgetIsUnavailable) {
  auto store = ThroughProxy({"--slowdown", "100"}, 3);
  ASSERT_NE(store, nullptr);
  StatsDelta stats;
  auto r = store->Get("anything");
  ASSERT_FALSE(r.ok());
  ExpectGaveUp(r.status(), *store, 3, "SlowDown");
  EXPECT_EQ(stats.retries(RetryReason::kThrottled), 2u);
  EXPECT_EQ(stats.all_retries(), 2u);
  EXPECT_EQ(stats.errors(ErrorKind::kUnavailable), 1u);
  EXPECT_EQ(stats.all_errors(), 1u);
}

TEST_F(S3FaultProxyTest, FailedPartAbortsTheMultipartUpload) {
  auto store = ThroughProxy({"--deny-parts"}, 3);
  ASSERT_NE(store, nullptr);
  StatsDelta stats;
  auto w = store->NewObject("big/denied");
  ASSERT_TRUE(w.ok());
  std::string chunk(11u << 20, 'd');
  Status appended = (*w)->Append(Bytes(chunk));
  Status st = appended.ok() ? (*w)->Commit() : appended;
  EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
  EXPECT_NE(st.message().find("AccessDenied"), std::string::npos) << st.message();
  EXPECT_EQ(store->multipart_uploads_aborted(), 1);
  EXPECT_EQ(store->retries(), 0);
  EXPECT_EQ(stats.requests(StoreOp::kCreateMultipart), 1u);
  EXPECT_GE(stats.requests(StoreOp::kUploadPart), 1u);
  EXPECT_EQ(stats.requests(StoreOp::kAbortMultipart), 1u);
  EXPECT_EQ(stats.requests(StoreOp::kCompleteMultipart), 0u);
  EXPECT_EQ(stats.errors(ErrorKind::kDenied), stats.requests(StoreOp::kUploadPart));
  EXPECT_EQ(OpenUploads(), 0u);
  EXPECT_EQ(store_->Head("big/denied").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace frazil::objstore
