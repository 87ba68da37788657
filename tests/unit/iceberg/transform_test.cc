#include "frazil/iceberg/transform.h"

#include <gtest/gtest.h>

namespace frazil::iceberg {
namespace {

using nlohmann::json;

Schema Envelope() {
  Schema s;
  s.fields = {NestedField{1, "offset", true, Primitive(TypeId::kLong), ""},
              NestedField{2, "publish_time", true, Primitive(TypeId::kTimestampTz), ""},
              NestedField{3, "key", false, Primitive(TypeId::kString), ""},
              NestedField{4, "payload", false, Primitive(TypeId::kBinary), ""}};
  return s;
}

TEST(IcebergTransform, DayOfPublishTimeIncludingBeforeTheEpoch) {
  auto day = std::move(Transform::Parse("day")).value();
  const TypePtr ts_type = Primitive(TypeId::kTimestampTz);  // keep it alive: ts refers into it
  const Type& ts = *ts_type;
  Value v;
  v.l = 0;
  EXPECT_EQ((*day.Apply(ts, v))->l, 0);
  v.l = 86'400'000'000LL - 1;
  EXPECT_EQ((*day.Apply(ts, v))->l, 0);
  v.l = -1;  // 1969-12-31T23:59:59.999999
  EXPECT_EQ((*day.Apply(ts, v))->l, -1);
  v.l = 1'700'000'000'000'000LL;  // 2023-11-14
  EXPECT_EQ((*day.Apply(ts, v))->l, 19675);
  EXPECT_EQ((*std::move(day.ResultType(ts)).value()).id, TypeId::kDate);
  auto month = std::move(Transform::Parse("month")).value();
  EXPECT_EQ((*month.Apply(ts, v))->l, (2023 - 1970) * 12 + 10);
}

TEST(IcebergTransform, RefusesWhatDoesNotApply) {
  EXPECT_FALSE(Transform::Parse("bucket[0]").ok());
  EXPECT_FALSE(Transform::Parse("bucket[x]").ok());
  EXPECT_FALSE(Transform::Parse("weekday").ok());
  EXPECT_FALSE(std::move(Transform::Parse("hour")).value().ResultType(*Primitive(TypeId::kDate)).ok());
  EXPECT_FALSE(std::move(Transform::Parse("bucket[4]")).value().ResultType(*Primitive(TypeId::kDouble)).ok());
  EXPECT_FALSE(std::move(Transform::Parse("truncate[4]")).value().ResultType(*Primitive(TypeId::kUuid)).ok());
}

TEST(IcebergPartitionSpec, JsonRoundTripAndValidation) {
  const Schema s = Envelope();
  auto spec = PartitionSpecFromJson(json::parse(R"j({"spec-id": 0, "fields": [
      {"source-id": 2, "field-id": 1000, "name": "publish_time_day", "transform": "day"},
      {"source-id": 3, "field-id": 1001, "name": "key_bucket", "transform": "bucket[16]"}]})j"),
                                    s);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->LastFieldId(), 1001);
  json out = PartitionSpecToJson(*spec);
  EXPECT_EQ(out["fields"][1]["transform"], "bucket[16]");
  EXPECT_EQ(out["fields"][0]["name"], "publish_time_day");
  auto again = PartitionSpecFromJson(out, s);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(PartitionSpecToJson(*again), out);
  EXPECT_EQ(PartitionSpec{}.LastFieldId(), 999);  // unpartitioned

  auto no_source = PartitionSpecFromJson(
      json::parse(R"j({"fields": [{"source-id": 9, "name": "x", "transform": "day"}]})j"), s);
  EXPECT_NE(no_source.status().message().find("no source field 9"), std::string::npos);
  auto wrong = PartitionSpecFromJson(
      json::parse(R"j({"fields": [{"source-id": 4, "name": "x", "transform": "day"}]})j"), s);
  EXPECT_NE(wrong.status().message().find("does not apply to binary"), std::string::npos);
}

}  // namespace
}  // namespace frazil::iceberg
