// RestCatalog's mapping of HTTP answers to Catalog outcomes, and its OAuth2
// token handling, against a scripted server (cpp-httplib on loopback):
// answers the real server cannot be made to give on demand (503 to a
// commit, a commit that hangs, a token that expires).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>

#include "../testing/catalog_fixture.h"
#include "frazil/catalog/rest_catalog.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

using nlohmann::json;

iceberg::TableMetadata Metadata() { return testing::OffsetTableMetadata(); }

class RestCatalogErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/v1/config", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"defaults":{},"overrides":{"prefix":"pfx"}})", "application/json");
    });
    server_.Post("/v1/oauth/tokens", [this](const httplib::Request& req, httplib::Response& res) {
      last_token_form_ = req.body;
      int n = ++tokens_issued_;
      res.set_content(json{{"access_token", "tok-" + std::to_string(n)},
                           {"token_type", "bearer"},
                           {"expires_in", expires_in_s_.load()}}
                          .dump(),
                      "application/json");
    });
    server_.Get("/v1/pfx/namespaces/ns/tables/t", [this](const httplib::Request& req,
                                                         httplib::Response& res) {
      // Only the newest token is valid: the first one "expired".
      if (reject_first_token_ && req.get_header_value("Authorization") == "Bearer tok-1") {
        res.status = 401;
        res.set_content(R"({"error":{"message":"token expired","type":"NotAuthorizedException","code":401}})",
                        "application/json");
        return;
      }
      res.set_content(json{{"metadata-location", "file:///w/ns/t/metadata/v1.json"},
                           {"metadata", iceberg::TableMetadataToJson(Metadata())}}
                          .dump(),
                      "application/json");
    });
    server_.Post("/v1/pfx/namespaces/ns/tables/t", [this](const httplib::Request&, httplib::Response& res) {
      ++commits_received_;
      if (commit_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(commit_delay_ms_));
      res.status = commit_status_;
      res.set_content(R"({"error":{"message":"scripted","type":"Scripted","code":0}})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::unique_ptr<RestCatalog> Open(std::string credential = "") {
    RestCatalogOptions o;
    o.uri = "http://127.0.0.1:" + std::to_string(port_) + "/";
    o.credential = std::move(credential);
    o.request_timeout_ms = 1000;
    auto c = RestCatalog::Open(o, objstore::NewLocalFileIO());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  Status Commit(RestCatalog* c) {
    LoadedTable base{{{"ns"}, "t"}, "file:///w/ns/t/metadata/v1.json", Metadata()};
    iceberg::TableMetadata next = base.metadata;
    next.properties["k"] = "v";
    return c->CommitTable(base, next).status();
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> tokens_issued_{0};
  std::atomic<int> commits_received_{0};
  std::atomic<int> commit_status_{200};
  std::atomic<int> commit_delay_ms_{0};
  std::atomic<bool> reject_first_token_{false};
  std::atomic<int> expires_in_s_{3600};
  std::string last_token_form_;
};

TEST_F(RestCatalogErrorsTest, CommitAnswersMapToOutcomes) {
  auto c = Open();
  ASSERT_NE(c, nullptr);
  // The config's prefix is used: the table is found under /v1/pfx/.
  ASSERT_TRUE(c->LoadTable({{"ns"}, "t"}).ok());
  struct Case {
    int status;
    StatusCode code;
  };
  for (Case k : {Case{409, StatusCode::kCommitConflict}, Case{500, StatusCode::kCommitStateUnknown},
                 Case{502, StatusCode::kCommitStateUnknown}, Case{503, StatusCode::kCommitStateUnknown},
                 Case{504, StatusCode::kCommitStateUnknown}, Case{404, StatusCode::kNotFound},
                 Case{400, StatusCode::kInvalidArgument}, Case{403, StatusCode::kInvalidArgument},
                 Case{401, StatusCode::kInvalidArgument}}) {
    commit_status_ = k.status;
    int before = commits_received_;
    Status st = Commit(c.get());
    EXPECT_EQ(st.code(), k.code) << k.status << ": " << st.ToString();
    EXPECT_NE(st.message().find("ns.t"), std::string::npos) << st.ToString();
    // Sent once: never resent blindly.
    EXPECT_EQ(commits_received_ - before, 1) << k.status;
  }
}

TEST_F(RestCatalogErrorsTest, CommitTimeoutIsStateUnknownAndNotResent) {
  auto c = Open();
  ASSERT_NE(c, nullptr);
  commit_delay_ms_ = 2500;  // past the 1 s request timeout
  Status st = Commit(c.get());
  EXPECT_EQ(st.code(), StatusCode::kCommitStateUnknown) << st.ToString();
  EXPECT_EQ(commits_received_, 1);
}

TEST_F(RestCatalogErrorsTest, OAuth2TokenIsFetchedOnceAndRefreshedOnceOn401) {
  auto c = Open("my-client:my secret");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(tokens_issued_, 1);
  EXPECT_NE(last_token_form_.find("grant_type=client_credentials"), std::string::npos) << last_token_form_;
  EXPECT_NE(last_token_form_.find("client_secret=my%20secret"), std::string::npos) << last_token_form_;
  reject_first_token_ = true;
  auto t = c->LoadTable({{"ns"}, "t"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(tokens_issued_, 2);
  // The new token is kept.
  ASSERT_TRUE(c->LoadTable({{"ns"}, "t"}).ok());
  EXPECT_EQ(tokens_issued_, 2);
}

TEST_F(RestCatalogErrorsTest, OAuth2TokenIsRefreshedBeforeItExpires) {
  expires_in_s_ = 1;  // refreshed after 90% of its life
  auto c = Open("my-client:secret");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(tokens_issued_, 1);
  ASSERT_TRUE(c->LoadTable({{"ns"}, "t"}).ok());
  EXPECT_EQ(tokens_issued_, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(c->LoadTable({{"ns"}, "t"}).ok());
  EXPECT_EQ(tokens_issued_, 2);
}

TEST_F(RestCatalogErrorsTest, A401WithAStaticTokenIsAClearPermanentError) {
  RestCatalogOptions o;
  o.uri = "http://127.0.0.1:" + std::to_string(port_);
  o.token = "tok-1";
  auto c = RestCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  reject_first_token_ = true;
  auto t = (*c)->LoadTable({{"ns"}, "t"});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("not authenticated"), std::string::npos) << t.status().ToString();
  EXPECT_NE(t.status().message().find("ns.t"), std::string::npos) << t.status().ToString();
}

}  // namespace
}  // namespace frazil::catalog
