#include "frazil/schema/topic_schema_store.h"

#include <gtest/gtest.h>

#include "../testing/temp_dir.h"

namespace frazil::schema {
namespace {

class TopicSchemaStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TopicSchemaStore> Open() {
    auto s = TopicSchemaStore::Open(dir_.Sub("metadata.db"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  testing::TempDir dir_;
};

TEST(ValidationPolicyTest, DanubeNamesAnyCase) {
  EXPECT_EQ(*ParseValidationPolicy("ENFORCE"), ValidationPolicy::kEnforce);
  EXPECT_EQ(*ParseValidationPolicy("Warn"), ValidationPolicy::kWarn);
  EXPECT_EQ(*ParseValidationPolicy("none"), ValidationPolicy::kNone);
  auto bad = ParseValidationPolicy("strict");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'none', 'warn', or 'enforce'"), std::string::npos);
  EXPECT_STREQ(ValidationPolicyName(ValidationPolicy::kEnforce), "enforce");
}

// The produce path skips every lookup while Empty() holds, so it must
// follow every change, and a reopened store with rows must not be empty.
TEST_F(TopicSchemaStoreTest, EmptyFollowsEveryChangeAndAReopen) {
  {
    auto s = Open();
    EXPECT_TRUE(s->Empty());
    ASSERT_TRUE(s->AssignIfAbsent("/default/a", "users").ok());
    EXPECT_FALSE(s->Empty());
    ASSERT_TRUE(s->Remove("/default/a").ok());
    EXPECT_TRUE(s->Empty());
    ASSERT_TRUE(s->Set("/default/b", {"orders", ValidationPolicy::kEnforce, true}).ok());
    EXPECT_FALSE(s->Empty());
  }
  auto s = Open();
  EXPECT_FALSE(s->Empty());
  ASSERT_TRUE(s->Remove("/default/b").ok());
  EXPECT_TRUE(s->Empty());
}

TEST_F(TopicSchemaStoreTest, FirstProducerBindsThenConfigurationSurvivesARestart) {
  {
    auto s = Open();
    EXPECT_EQ(s->Get("/default/t"), nullptr);
    auto a = s->AssignIfAbsent("/default/t", "users");
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->second);
    EXPECT_EQ(a->first->subject, "users");
    EXPECT_EQ(a->first->policy, ValidationPolicy::kWarn);  // Danube's default
    EXPECT_FALSE(a->first->payload_validation);
    // A second producer naming another subject sees the first one's.
    auto b = s->AssignIfAbsent("/default/t", "orders");
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->second);
    EXPECT_EQ(b->first->subject, "users");
    ASSERT_TRUE(s->UpdatePolicy("/default/t", ValidationPolicy::kEnforce, true).ok());
    EXPECT_EQ(s->UpdatePolicy("/default/none", ValidationPolicy::kEnforce, true).code(),
              StatusCode::kNotFound);
    ASSERT_TRUE(s->Set("/default/u", {"orders", ValidationPolicy::kNone, false}).ok());
    ASSERT_TRUE(s->Set("/default/gone", {"orders", ValidationPolicy::kWarn, true}).ok());
    ASSERT_TRUE(s->Remove("/default/gone").ok());
    ASSERT_TRUE(s->Remove("/default/never").ok());
  }
  auto s = Open();
  auto t = s->Get("/default/t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->subject, "users");
  EXPECT_EQ(t->policy, ValidationPolicy::kEnforce);
  EXPECT_TRUE(t->payload_validation);
  auto u = s->Get("/default/u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->subject, "orders");
  EXPECT_EQ(u->policy, ValidationPolicy::kNone);
  EXPECT_EQ(s->Get("/default/gone"), nullptr);
  // After a restart the order of changes still holds: a later change wins.
  ASSERT_TRUE(s->Set("/default/t", {"orders", ValidationPolicy::kWarn, false}).ok());
  s.reset();
  s = Open();
  EXPECT_EQ(s->Get("/default/t")->subject, "orders");
}

}  // namespace
}  // namespace frazil::schema
