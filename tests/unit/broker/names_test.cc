// Names clients send: the UTF-8 / NUL / length rule of CheckText, and the
// metadata store keeping names byte for byte.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../testing/temp_dir.h"
#include "frazil/broker/cursor_store.h"
#include "frazil/broker/topic_name.h"

namespace frazil::broker {
namespace {

using namespace std::string_literals;

TEST(CheckText, AcceptsUtf8) {
  EXPECT_TRUE(CheckText("f", "", 10).ok());
  EXPECT_TRUE(CheckText("f", "plain-name_1", 256).ok());
  EXPECT_TRUE(CheckText("f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 256).ok());  // é € 😀
  EXPECT_TRUE(CheckText("f", "\xf4\x8f\xbf\xbf", 256).ok());                           // U+10FFFF
  EXPECT_TRUE(CheckText("f", std::string(256, 'a'), 256).ok());
}

TEST(CheckText, RefusesNulInvalidUtf8AndLength) {
  for (const std::string& bad :
       {"s\0evil"s, "\0"s, "\xff"s, "a\xc3"s, "\xc0\xaf"s /* overlong */, "\xed\xa0\x80"s /* surrogate */,
        "\xf4\x90\x80\x80"s /* > U+10FFFF */, "\xe2\x82"s, "\x80"s}) {
    Status s = CheckText("subscription", bad, 256);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << Printable(bad);
    EXPECT_NE(s.message().find("subscription"), std::string::npos) << s.message();
  }
  EXPECT_NE(CheckText("f", "s\0x"s, 256).message().find("NUL (byte 1)"), std::string::npos);
  EXPECT_NE(CheckText("f", "ab\xff"s, 256).message().find("not valid UTF-8 (byte 2)"), std::string::npos);
  Status long_name = CheckText("producer_name", std::string(257, 'a'), 256);
  EXPECT_EQ(long_name.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(long_name.message().find("257 bytes, over the limit of 256"), std::string::npos);
}

TEST(ParseTopicName, ErrorQuotesOnlyPrintableBytes) {
  auto t = ParseTopicName("/ns/a\0\xff"s);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/ns/a\\x00\\xff"), std::string::npos) << t.status().message();
}

TEST(CursorStore, NamesAreByteExact) {
  testing::TempDir dir;
  {
    auto store = CursorStore::Open(dir.Sub("metadata.db")).value();
    ASSERT_TRUE(store->Save({{"/ns/t", "s", 1, 10}, {"/ns/t", "s\0evil"s, 1, 3}}).ok());
    ASSERT_TRUE(store->SaveTopic("/ns/t", true).ok());
  }
  auto store = CursorStore::Open(dir.Sub("metadata.db")).value();
  auto all = store->LoadAll().value();
  ASSERT_EQ(all.size(), 2u);
  std::map<std::string, uint64_t> cursors;
  for (const auto& r : all) cursors[r.subscription] = r.cursor;
  EXPECT_EQ(cursors["s"], 10u);
  EXPECT_EQ(cursors["s\0evil"s], 3u);
  ASSERT_TRUE(store->Remove("/ns/t", "s\0evil"s).ok());
  all = store->LoadAll().value();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].subscription, "s");
}

}  // namespace
}  // namespace frazil::broker
