// Upload rate of our S3 client (objstore::S3ObjectStore: multipart, parts
// in parallel) against pyarrow.fs.S3FileSystem writing the same bytes to
// the same S3 server (issue 13; target: ours at least 0.9x pyarrow's).
//
//   build/bench/s3_upload_bench [--s3-server PATH] [--server-dir DIR] [--objects 8x64M,64x1M]
//                               [--rounds K] [--chunk-bytes C] [--part-size BYTES]
//                               [--parallelism N] [--unsigned-payload] [--keep-heap] [--python PATH]
//                               [--dir DIR]
//
// Starts the test server (tests/s3server, scripts/setup-s3server.sh; in
// memory unless --server-dir) on a free loopback port with SigV4 keys,
// creates a bucket, and for each round and each size class (COUNTxSIZE,
// K/M suffixes) writes COUNT objects of SIZE bytes one after the other,
// each appended in --chunk-bytes pieces (default 1 MiB) and committed,
// once with S3ObjectStore and once with bench/s3_upload_pyarrow.py (its
// open_output_stream), alternating which goes first from round to round.
// Both write the same bytes (a pseudo-random buffer written to a file the
// Python side reads before timing), both write one untimed object first,
// and the objects are deleted after each run (untimed) so the in-memory
// server does not grow. The server's GET /__stats confirms both uploaded
// the same number of body bytes. Prints MB/s (10^6 bytes) per run, the
// client's CPU, and the median ratio ours / pyarrow per size class.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frazil/net/http_client.h"
#include "frazil/objstore/s3_config.h"
#include "frazil/objstore/s3_object_store.h"
#include "s3_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using frazil::objstore::S3Config;
using frazil::objstore::S3ObjectStore;

constexpr char kKey[] = "FRAZILBENCHKEY";
constexpr char kSecret[] = "frazil/bench+secret";
constexpr char kBucket[] = "frazil-bench";

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double LoadAverage1() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t ParseSize(const std::string& s) {
  uint64_t n = std::strtoull(s.c_str(), nullptr, 10);
  if (s.ends_with('K')) n <<= 10;
  if (s.ends_with('M')) n <<= 20;
  if (s.ends_with('G')) n <<= 30;
  return n;
}

std::string Run(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
    ::pclose(p);
  }
  return out;
}

// A number after `"name":` in a flat JSON text; -1 if absent.
double JsonNumber(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":");
  return at == std::string::npos ? -1 : std::atof(json.c_str() + at + name.size() + 3);
}

int64_t PutBytes(const std::string& endpoint) {
  frazil::net::HttpClient http(frazil::net::HttpClientOptions{});
  auto r = http.Send({"GET", endpoint + "/__stats", {}, {}});
  return r.ok() ? static_cast<int64_t>(JsonNumber(r->BodyText(), "put_body_bytes_received")) : -1;
}

void DeletePrefix(S3ObjectStore* store, const std::string& prefix) {
  auto listed = store->List(prefix, true);
  if (!listed.ok()) {
    std::fprintf(stderr, "list %s: %s\n", prefix.c_str(), listed.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<std::string> keys;
  for (const auto& o : *listed) keys.push_back(o.key);
  if (auto st = store->DeleteMany(keys); !st.ok()) {
    std::fprintf(stderr, "delete %s: %s\n", prefix.c_str(), st.ToString().c_str());
    std::exit(1);
  }
}

struct Sample {
  double seconds = 0, cpu = 0;
};

// Writes one object of `size` bytes from `data` in `chunk` appends.
void WriteObject(S3ObjectStore* store, const std::string& key, const std::vector<uint8_t>& data,
                 uint64_t size, uint64_t chunk) {
  auto w = store->NewObject(key);
  if (!w.ok()) {
    std::fprintf(stderr, "NewObject %s: %s\n", key.c_str(), w.status().ToString().c_str());
    std::exit(1);
  }
  for (uint64_t at = 0; at < size; at += chunk) {
    auto st = (*w)->Append(std::span<const uint8_t>(data.data() + at, std::min(chunk, size - at)));
    if (!st.ok()) {
      std::fprintf(stderr, "Append %s: %s\n", key.c_str(), st.ToString().c_str());
      std::exit(1);
    }
  }
  if (auto st = (*w)->Commit(); !st.ok()) {
    std::fprintf(stderr, "Commit %s: %s\n", key.c_str(), st.ToString().c_str());
    std::exit(1);
  }
}

int Usage() {
  std::fprintf(stderr,
               "usage: s3_upload_bench [--s3-server PATH] [--server-dir DIR] [--objects 8x64M,64x1M] "
               "[--rounds K]\n"
               "                       [--chunk-bytes C] [--part-size BYTES] [--parallelism N] "
               "[--unsigned-payload] [--keep-heap]\n"
               "                       [--python PATH] [--dir DIR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server_bin = frazil::testing::S3ServerBinary(), server_dir, dir = "/tmp/frazil-s3-upload-bench";
  std::string objects = "8x64M,64x1M";
  const char* py_env = std::getenv("FRAZIL_PYTHON");
  std::string python = py_env ? py_env : FRAZIL_SOURCE_DIR "/.venv/bin/python";
  int rounds = 3;
  uint64_t chunk = 1 << 20;
  S3Config config;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--s3-server" && has) {
      server_bin = argv[++i];
    } else if (a == "--server-dir" && has) {
      server_dir = argv[++i];
    } else if (a == "--objects" && has) {
      objects = argv[++i];
    } else if (a == "--rounds" && has) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--chunk-bytes" && has) {
      chunk = std::max<uint64_t>(1, ParseSize(argv[++i]));
    } else if (a == "--part-size" && has) {
      config.multipart_part_size = ParseSize(argv[++i]);
    } else if (a == "--parallelism" && has) {
      config.multipart_parallelism = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--keep-heap") {
      // Experiment: glibc keeps freed part buffers (no trimming, no mmap
      // per buffer), so each part is written into memory already mapped.
      mallopt(M_MMAP_THRESHOLD, 256 << 20);
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
    } else if (a == "--unsigned-payload") {
      config.sign_payload = false;
    } else if (a == "--python" && has) {
      python = argv[++i];
    } else if (a == "--dir" && has) {
      dir = argv[++i];
    } else {
      return Usage();
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::pair<int, uint64_t>> classes;  // count, size
  for (size_t at = 0; at < objects.size();) {
    size_t comma = objects.find(',', at);
    std::string item = objects.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? objects.size() : comma + 1;
    auto x = item.find('x');
    if (x == std::string::npos) return Usage();
    classes.emplace_back(std::atoi(item.substr(0, x).c_str()), ParseSize(item.substr(x + 1)));
  }
  uint64_t max_size = 0;
  for (auto [n, size] : classes) max_size = std::max(max_size, size);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // The bytes both clients write: pseudo-random (xorshift64*), so nothing
  // along the way can compress or deduplicate them.
  std::vector<uint8_t> data(max_size);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < data.size(); i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(data.data() + i, &v, std::min<size_t>(8, data.size() - i));
  }
  const std::string data_file = dir + "/data.bin";
  std::ofstream(data_file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));

  std::vector<std::string> server_args = {"--access-key", kKey, "--secret-key", kSecret};
  if (!server_dir.empty()) {
    std::filesystem::remove_all(server_dir);
    std::filesystem::create_directories(server_dir);
    server_args.insert(server_args.end(), {"--dir", server_dir});
  }
  ::setenv("FRAZIL_S3SERVER_BIN", server_bin.c_str(), 1);
  frazil::testing::S3ServerProcess server(server_args);
  if (server.address().empty()) {
    std::fprintf(stderr, "S3 server: %s\n", server.error().c_str());
    return 1;
  }
  config.endpoint = server.endpoint();
  config.region = "us-east-1";
  config.path_style = true;
  config.access_key_id = kKey;
  config.secret_access_key = kSecret;
  auto resolved = frazil::objstore::ResolveS3Config(config, frazil::objstore::Environment::Process());
  if (!resolved.ok()) {
    std::fprintf(stderr, "config: %s\n", resolved.status().ToString().c_str());
    return 1;
  }
  auto opened = S3ObjectStore::Open(*resolved, kBucket);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<S3ObjectStore> store = std::move(opened).value();
  if (auto r = store->Execute(S3ObjectStore::Call{"PUT", "", {}, {}, {}}); !r.ok()) {
    std::fprintf(stderr, "create bucket: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "S3 upload: server %s (%s), ours: part size %llu, %d parts in flight per object, %s payload; chunk "
      "%llu "
      "bytes per write; python %s\n",
      server.endpoint().c_str(), server_dir.empty() ? "in memory" : server_dir.c_str(),
      static_cast<unsigned long long>(resolved->multipart_part_size), resolved->multipart_parallelism,
      resolved->sign_payload ? "signed" : "unsigned", static_cast<unsigned long long>(chunk), python.c_str());

  std::map<std::string, std::vector<double>> ratios;
  std::map<std::string, std::vector<double>> ours_mbs, py_mbs;
  for (int round = 0; round < rounds; ++round) {
    for (auto [count, size] : classes) {
      const std::string cls = std::to_string(count) + "x" + std::to_string(size >> 20) + "MiB";
      double ours = 0, theirs = 0;
      for (int turn = 0; turn < 2; ++turn) {
        const bool ours_now = (turn == 0) == (round % 2 == 0);
        const std::string prefix =
            "r" + std::to_string(round) + "/" + cls + (ours_now ? "/ours" : "/pyarrow");
        const int64_t put0 = PutBytes(server.endpoint());
        const double load = LoadAverage1();
        Sample s;
        if (ours_now) {
          WriteObject(store.get(), prefix + "/warmup", data, size, chunk);
          double cpu0 = CpuSeconds();
          auto t0 = Clock::now();
          for (int i = 0; i < count; ++i)
            WriteObject(store.get(), prefix + "/" + std::to_string(i), data, size, chunk);
          s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
          s.cpu = CpuSeconds() - cpu0;
        } else {
          std::string out = Run(python + " " FRAZIL_SOURCE_DIR "/bench/s3_upload_pyarrow.py --endpoint " +
                                server.endpoint() + " --bucket " + kBucket + " --prefix " + prefix +
                                " --access-key " + kKey + " --secret-key " + kSecret + " --data " +
                                data_file + " --size " + std::to_string(size) + " --count " +
                                std::to_string(count) + " --chunk-bytes " + std::to_string(chunk));
          s.seconds = JsonNumber(out, "seconds");
          s.cpu = JsonNumber(out, "cpu_seconds");
          if (s.seconds <= 0) {
            std::fprintf(stderr, "pyarrow run failed: %s\n", out.c_str());
            return 1;
          }
        }
        const int64_t uploaded = PutBytes(server.endpoint()) - put0;
        const double bytes = static_cast<double>(count) * static_cast<double>(size);
        const double mbs = bytes / s.seconds / 1e6;
        (ours_now ? ours : theirs) = mbs;
        std::printf(
            "round %d %-9s %-7s %8.1f MB/s  (%.3f s for %.0f MB; client cpu %.2f s = %.0f%% of a core; "
            "server "
            "received %.1f MB of PUT/part bodies incl. the warm-up object; load %.2f)\n",
            round, cls.c_str(), ours_now ? "ours" : "pyarrow", mbs, s.seconds, bytes / 1e6, s.cpu,
            s.cpu / s.seconds * 100, static_cast<double>(uploaded) / 1e6, load);
        DeletePrefix(store.get(), prefix + "/");
      }
      ratios[cls].push_back(ours / theirs);
      ours_mbs[cls].push_back(ours);
      py_mbs[cls].push_back(theirs);
    }
  }
  std::printf("\nmedian over %d round%s (target: ours / pyarrow >= 0.9)\n", rounds, rounds > 1 ? "s" : "");
  for (auto [count, size] : classes) {
    const std::string cls = std::to_string(count) + "x" + std::to_string(size >> 20) + "MiB";
    auto& r = ratios[cls];
    std::printf("%-9s ours %8.1f MB/s  pyarrow %8.1f MB/s  ratio %.2fx (rounds %.2f-%.2f)%s\n", cls.c_str(),
                Median(ours_mbs[cls]), Median(py_mbs[cls]), Median(r), *std::min_element(r.begin(), r.end()),
                *std::max_element(r.begin(), r.end()), Median(r) >= 0.9 ? "" : "  BELOW TARGET");
  }
  std::printf("S3 requests by ours: %lld sent, %lld retries\n",
              static_cast<long long>(store->requests_sent()), static_cast<long long>(store->retries()));
  return 0;
}
