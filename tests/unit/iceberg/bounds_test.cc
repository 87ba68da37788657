#include "frazil/iceberg/bounds.h"

#include <gtest/gtest.h>

#include "frazil/parquet/file_writer.h"

namespace frazil::iceberg {
namespace {

TEST(IcebergBounds, DecimalsAreMinimalBigEndian) {
  const TypePtr dec = Decimal(18, 4);
  Value v;
  v.decimal = 1;
  EXPECT_EQ(*ToBound(*dec, v), std::string("\x01", 1));
  v.decimal = -1;
  EXPECT_EQ(*ToBound(*dec, v), std::string("\xff", 1));
  v.decimal = 128;  // needs a sign byte
  EXPECT_EQ(*ToBound(*dec, v), std::string("\x00\x80", 2));
  v.decimal = -129;
  EXPECT_EQ(*ToBound(*dec, v), std::string("\xff\x7f", 2));
  for (__int128 x :
       {__int128{0}, __int128{-5}, __int128{999999999999999999LL}, __int128{-999999999999999999LL}}) {
    v.decimal = x;
    auto back = FromBound(*dec, *ToBound(*dec, v));
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->decimal == x);
  }
  EXPECT_FALSE(FromBound(*Primitive(TypeId::kLong), "abc").ok());
  EXPECT_FALSE(FromBound(*dec, "").ok());
}

TEST(IcebergBounds, FromTheParquetWritersStatistics) {
  // A real file's metrics: decimals come at the column's fixed width and are
  // narrowed; longs and strings pass through unchanged.
  parquet::FileSchema schema;
  schema.fields.push_back({"amount",
                           1,
                           false,
                           parquet::FieldSchema::Shape::kPrimitive,
                           {parquet::ValueType::kDecimal, 0, 18, 4}});
  schema.fields.push_back(
      {"offset", 2, true, parquet::FieldSchema::Shape::kPrimitive, {parquet::ValueType::kInt64}});
  parquet::RowBatch b;
  b.num_rows = 3;
  b.columns.resize(2);
  b.columns[0].values.decimals = {-12345, 7, 300};
  b.columns[1].values.ints = {10, 11, 12};
  auto w = std::move(parquet::FileWriter::Open(schema, {}, std::make_unique<parquet::MemorySink>())).value();
  ASSERT_TRUE(w->Write(b).ok());
  auto res = std::move(w->Close()).value();
  const auto& amount = res.columns[0];
  ASSERT_EQ(amount.lower_bound->size(), 8u);  // FIXED_LEN_BYTE_ARRAY(8) in Parquet
  Value lo, hi;
  lo.decimal = -12345;
  hi.decimal = 300;
  EXPECT_EQ(*BoundFromParquetStatistic(*Decimal(18, 4), *amount.lower_bound), *ToBound(*Decimal(18, 4), lo));
  EXPECT_EQ(*BoundFromParquetStatistic(*Decimal(18, 4), *amount.upper_bound), *ToBound(*Decimal(18, 4), hi));
  Value ten;
  ten.l = 10;
  EXPECT_EQ(*BoundFromParquetStatistic(*Primitive(TypeId::kLong), *res.columns[1].lower_bound),
            *ToBound(*Primitive(TypeId::kLong), ten));
  EXPECT_FALSE(BoundFromParquetStatistic(*Primitive(TypeId::kLong), "1234").ok());  // wrong width
}

}  // namespace
}  // namespace frazil::iceberg
