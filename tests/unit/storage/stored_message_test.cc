#include "frazil/storage/stored_message.h"

#include <gtest/gtest.h>

#include "danube_api.pb.h"

namespace frazil::storage {
namespace {

StoredMessage Full() {
  StoredMessage m;
  m.producer_id = 1234567890123ull;
  m.publish_time_ms = 1764460800123;
  m.producer_name = "producer-\xc3\xa9";
  m.routing_key = "key-7";
  m.attributes = {{"a", "1"}, {"b", std::string("\0\xff", 2)}, {"c", ""}};
  m.payload = std::string("payload\0with\xff" "bytes", 18);
  m.schema_id = 42;
  m.schema_version = 7;
  return m;
}

void ExpectSame(const StoredMessage& a, const StoredMessage& b) {
  EXPECT_EQ(a.producer_id, b.producer_id);
  EXPECT_EQ(a.publish_time_ms, b.publish_time_ms);
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.routing_key, b.routing_key);
  EXPECT_EQ(a.attributes, b.attributes);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.schema_id, b.schema_id);
  EXPECT_EQ(a.schema_version, b.schema_version);
}

TEST(StoredMessageTest, RoundTripsEveryField) {
  StoredMessage m = Full();
  auto bytes = EncodeStoredMessage(m);
  ASSERT_EQ(bytes[0], 0x00);
  ASSERT_EQ(bytes[1], 0x01);
  auto back = DecodeStoredMessage(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(*back, m);
}

TEST(StoredMessageTest, RoundTripsAnEmptyMessageWithNoOptionalFields) {
  StoredMessage m;
  m.publish_time_ms = -1;  // before the epoch survives as a signed value
  auto back = DecodeStoredMessage(EncodeStoredMessage(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(*back, m);
  EXPECT_FALSE(back->routing_key.has_value());
  EXPECT_FALSE(back->schema_id.has_value());
}

TEST(StoredMessageTest, AttributesAreStoredUniqueAndSortedLastValueWins) {
  StoredMessage m;
  m.attributes = {{"z", "1"}, {"a", "2"}, {"z", "3"}};
  auto back = DecodeStoredMessage(EncodeStoredMessage(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->attributes, (std::vector<std::pair<std::string, std::string>>{{"a", "2"}, {"z", "3"}}));
}

TEST(StoredMessageTest, ReadsRecordsWrittenAsProtobufStreamMessages) {
  // What every WAL written before the format holds.
  danube::StreamMessage pb;
  pb.mutable_msg_id()->set_producer_id(99);
  pb.set_payload("hello");
  pb.set_publish_time(1764460800000);
  pb.set_producer_name("old");
  (*pb.mutable_attributes())["k2"] = "v2";
  (*pb.mutable_attributes())["k1"] = "v1";
  pb.set_routing_key("rk");
  pb.set_schema_version(3);
  std::string wire = pb.SerializeAsString();
  auto m = DecodeStoredMessage({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->producer_id, 99u);
  EXPECT_EQ(m->payload, "hello");
  EXPECT_EQ(m->publish_time_ms, 1764460800000);
  EXPECT_EQ(m->producer_name, "old");
  EXPECT_EQ(m->routing_key, "rk");
  EXPECT_EQ(m->attributes, (std::vector<std::pair<std::string, std::string>>{{"k1", "v1"}, {"k2", "v2"}}));
  EXPECT_FALSE(m->schema_id.has_value());
  EXPECT_EQ(m->schema_version, 3u);
}

TEST(StoredMessageTest, EveryTruncationIsCorruptionNotACrash) {
  auto bytes = EncodeStoredMessage(Full());
  for (size_t n = 1; n < bytes.size(); ++n) {
    auto m = DecodeStoredMessage({bytes.data(), n});
    ASSERT_FALSE(m.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
  }
}

TEST(StoredMessageTest, RejectsTrailingBytesUnknownVersionsAndFlags) {
  auto bytes = EncodeStoredMessage(Full());
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_NE(DecodeStoredMessage(longer).status().message().find("after the payload"), std::string::npos);
  auto v2 = bytes;
  v2[1] = 2;
  EXPECT_NE(DecodeStoredMessage(v2).status().message().find("unknown version"), std::string::npos);
  auto flags = bytes;
  flags[2] |= 0x40;
  EXPECT_NE(DecodeStoredMessage(flags).status().message().find("unknown flags"), std::string::npos);
}

TEST(StoredMessageTest, HugeAttributeCountIsRefusedBeforeAllocating) {
  std::vector<uint8_t> r = {0x00, 0x01, 0x00, 0x01, 0,    0,    0,    0,    0,
                            0,    0,    0,    0x00, 0xff, 0xff, 0xff, 0xff, 0x0f};  // 2^32-1 attributes
  auto m = DecodeStoredMessage(r);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("cannot fit"), std::string::npos);
}

}  // namespace
}  // namespace frazil::storage
