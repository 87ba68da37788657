// The admin operations behind the Danube admin services, the HTTP admin API
// and `frazil topics`: namespaces (declared ones survive a restart, a
// non-empty one is not deleted), topic creation (plain and partitioned),
// deletion, subscriptions (a deleted one stays deleted across a restart),
// the standalone broker's identity, and clear errors for bad input.
#include "frazil/broker/admin.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "../testing/temp_dir.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::broker {
namespace {

using namespace std::chrono_literals;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    admin_.reset();
    if (broker_) {
      ASSERT_TRUE(broker_->Shutdown().ok());
    }
    broker_.reset();
    BrokerOptions o;
    o.data_dir = dir_.Sub("data");
    o.cursor_flush_interval = 10ms;
    o.wal_options = [](const std::string& dir) {
      wal::WalOptions w;
      w.dir = dir;
      w.sync_mode = wal::SyncMode::kNone;
      return w;
    };
    auto b = Broker::Open(std::move(o));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    admin_ = std::make_unique<Admin>(
        broker_.get(),
        BrokerAddresses{"http://127.0.0.1:6650", "http://127.0.0.1:50051", "http://127.0.0.1:9040"},
        NamespacePolicies{1024, true, 77});
  }

  void TearDown() override {
    admin_.reset();
    if (broker_) (void)broker_->Shutdown();
  }

  std::vector<std::string> Namespaces() {
    auto all = admin_->ListNamespaces();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    return all.ok() ? *all : std::vector<std::string>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(AdminTest, NamespacesAreCreatedListedAndSurviveRestart) {
  EXPECT_EQ(Namespaces(), std::vector<std::string>{"default"});
  ASSERT_TRUE(admin_->CreateNamespace("sales").ok());
  EXPECT_EQ(admin_->CreateNamespace("sales").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(admin_->CreateNamespace("default").code(), StatusCode::kAlreadyExists);
  Reopen();
  EXPECT_EQ(Namespaces(), (std::vector<std::string>{"default", "sales"}));
  auto topics = admin_->NamespaceTopics("sales");
  ASSERT_TRUE(topics.ok());
  EXPECT_TRUE(topics->empty());
  ASSERT_TRUE(admin_->DeleteNamespace("sales").ok());
  EXPECT_EQ(admin_->DeleteNamespace("sales").status().code(), StatusCode::kNotFound);
  Reopen();
  EXPECT_EQ(Namespaces(), std::vector<std::string>{"default"});
}

TEST_F(AdminTest, NamespaceWithTopicsIsNotDeleted) {
  ASSERT_TRUE(admin_->CreateNamespace("ops").ok());
  ASSERT_TRUE(admin_->CreateTopic("/ops/alerts", false).ok());
  Outcome o = admin_->DeleteNamespace("ops");
  ASSERT_TRUE(o.refused().has_value());
  EXPECT_NE(o.refused()->find("/ops/alerts"), std::string::npos) << *o.refused();
  EXPECT_TRUE(admin_->DeleteNamespace("default").refused().has_value());
  ASSERT_TRUE(admin_->DeleteTopic("/ops/alerts").ok());
  EXPECT_TRUE(admin_->DeleteNamespace("ops").ok());
  EXPECT_EQ(Namespaces(), std::vector<std::string>{"default"});
}

TEST_F(AdminTest, ProducersCreateNamespacesWithTheirTopics) {
  ASSERT_TRUE(broker_->CreateProducer("/implicit/t", "p", false, false).ok());
  EXPECT_EQ(Namespaces(), (std::vector<std::string>{"default", "implicit"}));
  auto topics = admin_->NamespaceTopics("implicit");
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(*topics, std::vector<std::string>{"/implicit/t"});
  // Gone with its last topic, as it was never declared.
  ASSERT_TRUE(admin_->DeleteTopic("/implicit/t").ok());
  EXPECT_EQ(Namespaces(), std::vector<std::string>{"default"});
}

TEST_F(AdminTest, BadNamesAreInvalidArguments) {
  for (const std::string& ns : std::vector<std::string>{"", "a/b", "sp ace", "dot.ted", std::string(201, 'x'),
                                                        std::string("nu\0l", 4)})
    EXPECT_EQ(admin_->CreateNamespace(ns).code(), StatusCode::kInvalidArgument) << ns;
  for (const std::string& t :
       std::vector<std::string>{"", "default/t", "/default", "/default/", "/a b/t", "/default/t/x"}) {
    EXPECT_EQ(admin_->CreateTopic(t, false).code(), StatusCode::kInvalidArgument) << t;
    EXPECT_EQ(admin_->DeleteTopic(t).code(), StatusCode::kInvalidArgument) << t;
    EXPECT_EQ(admin_->DescribeTopic(t).status().code(), StatusCode::kInvalidArgument) << t;
  }
  EXPECT_EQ(admin_->Unsubscribe("/default/t", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(admin_->Unsubscribe("/default/t", "\xff").code(), StatusCode::kInvalidArgument);
}

TEST_F(AdminTest, TopicsNeedAnExistingNamespace) {
  Status st = admin_->CreateTopic("/nowhere/t", false);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("namespace nowhere"), std::string::npos) << st.message();
  EXPECT_EQ(admin_->NamespaceTopics("nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(admin_->ListTopics("nowhere").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(admin_->Policies("nowhere").status().code(), StatusCode::kNotFound);
}

TEST_F(AdminTest, CreatesDescribesAndDeletesTopics) {
  ASSERT_TRUE(admin_->CreateTopic("/default/plain", false).ok());
  ASSERT_TRUE(admin_->CreateTopic("/default/sure", true).ok());
  EXPECT_EQ(admin_->CreateTopic("/default/plain", false).code(), StatusCode::kAlreadyExists);
  auto plain = admin_->DescribeTopic("/default/plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->reliable);
  auto sure = admin_->DescribeTopic("/default/sure");
  ASSERT_TRUE(sure.ok());
  EXPECT_TRUE(sure->reliable);
  auto listed = admin_->ListTopics("default");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "/default/plain");
  EXPECT_EQ((*listed)[1].name, "/default/sure");
  // The dispatch strategy is kept across a restart.
  Reopen();
  sure = admin_->DescribeTopic("/default/sure");
  ASSERT_TRUE(sure.ok());
  EXPECT_TRUE(sure->reliable);
  ASSERT_TRUE(admin_->DeleteTopic("/default/plain").ok());
  EXPECT_EQ(admin_->DeleteTopic("/default/plain").code(), StatusCode::kNotFound);
  EXPECT_EQ(admin_->DescribeTopic("/default/plain").status().code(), StatusCode::kNotFound);
}

TEST_F(AdminTest, PartitionedTopics) {
  ASSERT_TRUE(admin_->CreatePartitionedTopic("/default/p", 3, true).ok());
  auto topics = admin_->NamespaceTopics("default");
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(*topics,
            (std::vector<std::string>{"/default/p-part-0", "/default/p-part-1", "/default/p-part-2"}));
  EXPECT_EQ(broker_->Partitions("/default/p").size(), 3u);
  EXPECT_EQ(admin_->CreatePartitionedTopic("/default/p", 2, true).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(admin_->CreateTopic("/default/p", true).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(admin_->CreatePartitionedTopic("/default/q", 0, true).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(admin_->CreatePartitionedTopic("/default/q", Admin::kMaxPartitions + 1, true).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(admin_->CreatePartitionedTopic("/default/q-part-1", 2, true).code(),
            StatusCode::kInvalidArgument);
  // Deleting the partitioned topic deletes every partition.
  ASSERT_TRUE(admin_->DeleteTopic("/default/p").ok());
  topics = admin_->NamespaceTopics("default");
  ASSERT_TRUE(topics.ok());
  EXPECT_TRUE(topics->empty());
}

TEST_F(AdminTest, SubscriptionsAreListedAndDeletedForGood) {
  ASSERT_TRUE(admin_->CreateTopic("/default/t", true).ok());
  auto c1 = broker_->Subscribe("/default/t", "alpha", "c1", SubscriptionType::kShared, {});
  auto c2 = broker_->Subscribe("/default/t", "beta", "c2", SubscriptionType::kExclusive, {});
  ASSERT_TRUE(c1.ok() && c2.ok());
  auto subs = admin_->Subscriptions("/default/t");
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(*subs, (std::vector<std::string>{"alpha", "beta"}));
  ASSERT_TRUE(admin_->Unsubscribe("/default/t", "alpha").ok());
  EXPECT_EQ(admin_->Unsubscribe("/default/t", "alpha").code(), StatusCode::kNotFound);
  EXPECT_EQ(admin_->Unsubscribe("/default/none", "beta").code(), StatusCode::kNotFound);
  // Its consumer is gone with it.
  EXPECT_EQ(broker_->Consumer(*c1).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(broker_->Consumer(*c2).ok());
  // Let cursor flushes run: none may bring the deleted subscription back.
  std::this_thread::sleep_for(50ms);
  Reopen();
  subs = admin_->Subscriptions("/default/t");
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(*subs, std::vector<std::string>{"beta"});
  EXPECT_EQ(admin_->Subscriptions("/default/none").status().code(), StatusCode::kNotFound);
}

TEST_F(AdminTest, TheStandaloneBrokerIsItsOwnLeader) {
  auto brokers = admin_->ListBrokers();
  ASSERT_TRUE(brokers.ok());
  ASSERT_EQ(brokers->size(), 1u);
  const BrokerEntry& self = (*brokers)[0];
  EXPECT_EQ(self.addresses.broker_url, "http://127.0.0.1:6650");
  EXPECT_EQ(self.addresses.admin_url, "http://127.0.0.1:50051");
  EXPECT_EQ(self.role, "Cluster_Leader");
  auto leader = admin_->LeaderId();
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(*leader, self.id);
  EXPECT_FALSE(self.id.empty());
  // The id is kept across restarts.
  Reopen();
  EXPECT_EQ(*admin_->LeaderId(), self.id);
  ASSERT_TRUE(admin_->CreateTopic("/default/t", false).ok());
  auto mine = admin_->BrokerTopics(self.id);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].name, "/default/t");
  EXPECT_EQ(admin_->BrokerTopics("12345").status().code(), StatusCode::kNotFound);
}

TEST_F(AdminTest, ClusterOperationsAreRefused) {
  ASSERT_TRUE(admin_->CreateTopic("/default/t", false).ok());
  Outcome o = admin_->UnloadTopic("/default/t");
  ASSERT_TRUE(o.refused().has_value());
  EXPECT_FALSE(o.ok());
  EXPECT_NE(o.refused()->find("standalone"), std::string::npos) << *o.refused();
  EXPECT_EQ(admin_->UnloadTopic("/default/none").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(admin_->UnloadTopic("/default/none").refused().has_value());
  EXPECT_NE(Admin::NeedsCluster("rebalancing").reason.find("rebalancing needs a cluster"), std::string::npos);
  // Unloading changed nothing.
  EXPECT_TRUE(admin_->DescribeTopic("/default/t").ok());
}

TEST_F(AdminTest, PoliciesAreTheBrokersSettings) {
  auto p = admin_->Policies("default");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->max_message_bytes, 1024u);
  EXPECT_EQ(p->consumer_window, 77u);
  EXPECT_TRUE(p->auto_create_topics);
}

}  // namespace
}  // namespace frazil::broker

namespace frazil::broker {
namespace {

TEST_F(AdminTest, RetentionNeedsIcebergStorageAndChecksItsInput) {
  ASSERT_TRUE(admin_->CreateTopic("/default/r", true).ok());
  EXPECT_EQ(admin_->SetRetention("/default/r", storage::RetentionPolicy{1000, 0}).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(admin_->SetRetention("/default/r", storage::RetentionPolicy{-1, 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(admin_->SetRetention("/default/none", storage::RetentionPolicy{1, 0}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(admin_->Retention("/default/none").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(admin_->Retention("no-slash").status().code(), StatusCode::kInvalidArgument);
  auto r = admin_->Retention("/default/r");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->own.has_value());
  EXPECT_FALSE(r->effective.active());
}

// A topic's own retention, with Iceberg storage: every partition of a
// partitioned topic gets it, it survives a restart, and it goes with the topic.
TEST(AdminRetentionTest, PerTopicRetentionIsKeptAndForgottenWithTheTopic) {
  testing::TempDir dir;
  catalog::SqlCatalogOptions c;
  c.db_path = dir.Sub("catalog.db");
  c.warehouse = "file://" + dir.Sub("warehouse");
  auto cat = catalog::SqlCatalog::Open(c, objstore::NewLocalFileIO()).value();
  auto open = [&] {
    BrokerOptions o;
    o.data_dir = dir.Sub("data");
    o.catalog = cat.get();
    o.committer.retention = storage::RetentionPolicy{0, 1 << 30};  // the default
    o.wal_options = [](const std::string& d) {
      wal::WalOptions w;
      w.dir = d;
      w.sync_mode = wal::SyncMode::kNone;
      return w;
    };
    return Broker::Open(std::move(o)).value();
  };
  auto broker = open();
  auto admin = std::make_unique<Admin>(broker.get(), BrokerAddresses{}, NamespacePolicies{});
  ASSERT_TRUE(admin->CreatePartitionedTopic("/default/p", 2, true).ok());
  auto r = admin->Retention("/default/p-part-1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->own.has_value());
  EXPECT_EQ(r->effective, (storage::RetentionPolicy{0, 1 << 30}));

  ASSERT_TRUE(admin->SetRetention("/default/p", storage::RetentionPolicy{3600000, 0}).ok());
  for (const char* part : {"/default/p-part-0", "/default/p-part-1"}) {
    r = admin->Retention(part);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->own, (storage::RetentionPolicy{3600000, 0})) << part;
    EXPECT_EQ(r->effective, (storage::RetentionPolicy{3600000, 0})) << part;
  }
  admin.reset();
  ASSERT_TRUE(broker->Shutdown().ok());
  broker = open();
  admin = std::make_unique<Admin>(broker.get(), BrokerAddresses{}, NamespacePolicies{});
  r = admin->Retention("/default/p-part-0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->own, (storage::RetentionPolicy{3600000, 0}));

  // Back to the default for one partition only.
  ASSERT_TRUE(admin->SetRetention("/default/p-part-0", std::nullopt).ok());
  EXPECT_FALSE(admin->Retention("/default/p-part-0")->own.has_value());
  EXPECT_TRUE(admin->Retention("/default/p-part-1")->own.has_value());

  // A topic created again under the name starts with the default.
  ASSERT_TRUE(admin->DeleteTopic("/default/p").ok());
  ASSERT_TRUE(admin->CreateTopic("/default/p-part-1", true).ok());
  EXPECT_FALSE(admin->Retention("/default/p-part-1")->own.has_value());
  admin.reset();
  ASSERT_TRUE(broker->Shutdown().ok());
}

}  // namespace
}  // namespace frazil::broker
