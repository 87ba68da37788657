// Nested columns (structs, lists and maps of any type, to any depth):
// round trips with nulls at every level, several pages and row groups,
// projection, AppendRow, metrics, and bad batches and files.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

namespace frazil::parquet {
namespace {

class SharedSink final : public OutputSink {
 public:
  explicit SharedSink(std::vector<uint8_t>* out) : out_(out) {}
  Status Write(std::span<const uint8_t> d) override {
    out_->insert(out_->end(), d.begin(), d.end());
    return Status::Ok();
  }
  uint64_t Position() const override { return out_->size(); }
  Status Close() override { return Status::Ok(); }

 private:
  std::vector<uint8_t>* out_;
};

using S = FieldSchema::Shape;

FieldSchema Prim(std::string name, int32_t id, bool required, ValueType t) {
  FieldSchema f;
  f.name = std::move(name);
  f.field_id = id;
  f.required = required;
  f.value.type = t;
  return f;
}

FieldSchema Struct(std::string name, int32_t id, bool required, std::vector<FieldSchema> fields) {
  FieldSchema f;
  f.name = std::move(name);
  f.field_id = id;
  f.required = required;
  f.shape = S::kStruct;
  f.children = std::move(fields);
  return f;
}

FieldSchema List(std::string name, int32_t id, bool required, FieldSchema element) {
  FieldSchema f;
  f.name = std::move(name);
  f.field_id = id;
  f.required = required;
  f.shape = S::kList;
  element.name = "element";
  f.children.push_back(std::move(element));
  return f;
}

FieldSchema Map(std::string name, int32_t id, bool required, FieldSchema key, FieldSchema value) {
  FieldSchema f;
  f.name = std::move(name);
  f.field_id = id;
  f.required = required;
  f.shape = S::kMap;
  key.name = "key";
  value.name = "value";
  f.children.push_back(std::move(key));
  f.children.push_back(std::move(value));
  return f;
}

// Every nesting the issue names, nullable and required at each level, next
// to a flat primitive, a flat list and a flat map (the old shapes).
FileSchema NestedSchema() {
  FileSchema s;
  s.fields.push_back(Prim("offset", 1, true, ValueType::kInt64));
  s.fields.push_back(Struct("s", 2, false,
                            {Prim("a", 3, false, ValueType::kInt32), Prim("b", 4, true, ValueType::kString),
                             Struct("inner", 5, false, {Prim("x", 6, false, ValueType::kDouble)})}));
  s.fields.push_back(List("people", 7, false,
                          Struct("", 8, false,
                                 {Prim("name", 9, false, ValueType::kString),
                                  List("scores", 10, false, Prim("", 11, false, ValueType::kInt64))})));
  s.fields.push_back(Map("by_name", 12, false, Prim("", 13, true, ValueType::kString),
                         Struct("", 14, false,
                                {Prim("v", 15, false, ValueType::kDouble),
                                 List("w", 16, true, Prim("", 17, true, ValueType::kString))})));
  s.fields.push_back(List("matrix", 18, false, List("", 19, false, Prim("", 20, false, ValueType::kInt64))));
  s.fields.push_back(Map("int_keys", 21, false, Prim("", 22, true, ValueType::kInt32),
                         List("", 23, false, Prim("", 24, false, ValueType::kBoolean))));
  s.fields.push_back(List(
      "maps", 25, false,
      Map("", 26, false, Prim("", 27, true, ValueType::kString), Prim("", 28, false, ValueType::kInt64))));
  s.fields.push_back(Struct("req", 29, true,
                            {Prim("id", 30, true, ValueType::kInt64),
                             Struct("deep", 31, true, {Prim("z", 32, false, ValueType::kBinary)})}));
  FieldSchema tags{"tags", 33, false, S::kList, {ValueType::kString}};
  tags.element_id = 34;
  s.fields.push_back(tags);
  FieldSchema attrs{"attrs", 35, false, S::kMap, {ValueType::kString}};
  attrs.key_id = 36;
  attrs.value_id = 37;
  s.fields.push_back(attrs);
  Normalize(&s);
  return s;
}

// Random slots for a field, nulls where the field may be null, empty
// lists and maps, and slots under null structs left holding junk (which
// the writer must ignore).
class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  void Slots(const FieldSchema& f, size_t n, ColumnData* col, ValueVector* prim, bool parent_absent = false) {
    for (size_t i = 0; i < n; ++i) Slot(f, col, prim, parent_absent);
  }

 private:
  bool Coin(int percent) { return static_cast<int>(rng_() % 100) < percent; }

  void Value(ValueType t, ValueVector* v) {
    switch (t) {
      case ValueType::kString:
      case ValueType::kBinary:
        v->bytes.push_back("v" + std::to_string(rng_() % 50));
        break;
      case ValueType::kDouble:
        v->doubles.push_back(static_cast<double>(rng_() % 1000) / 8.0);
        break;
      case ValueType::kBoolean:
        v->ints.push_back(rng_() % 2);
        break;
      default:
        v->ints.push_back(static_cast<int64_t>(rng_() % 100000) - 50000);
        break;
    }
  }

  void Slot(const FieldSchema& f, ColumnData* col, ValueVector* prim, bool parent_absent) {
    // Under a null parent anything goes for a nullable field; a required
    // one still holds a value (nothing reads it).
    const bool null = !f.required && Coin(parent_absent ? 50 : 15);
    if (f.is_primitive()) {
      const size_t before = prim->size(f.value.type);
      if (null) {
        prim->is_null.resize(before, 0);
        prim->is_null.push_back(1);
        prim->AppendDefault(f.value.type);
      } else {
        if (!prim->is_null.empty()) prim->is_null.push_back(0);
        Value(f.value.type, prim);
      }
      return;
    }
    if (f.shape != S::kStruct && col->offsets.empty()) col->offsets.push_back(0);
    const size_t before = f.shape == S::kStruct ? struct_slots_[col] : col->offsets.size() - 1;
    if (null || !col->is_null.empty()) {
      col->is_null.resize(before, 0);
      col->is_null.push_back(null ? 1 : 0);
    }
    if (f.shape == S::kStruct) {
      ++struct_slots_[col];
      col->children.resize(f.children.size());
      for (size_t k = 0; k < f.children.size(); ++k)
        Slot(f.children[k], &col->children[k], &col->children[k].values, parent_absent || null);
      return;
    }
    const size_t entries = null ? 0 : rng_() % 4;  // 0: an empty list or map
    const FieldSchema& e = f.children.back();
    if (!e.is_primitive() && col->children.empty()) col->children.resize(1);
    for (size_t j = 0; j < entries; ++j) {
      if (f.shape == S::kMap) Value(f.children[0].value.type, &col->keys);
      if (e.is_primitive()) {
        Slot(e, nullptr, &col->values, false);
      } else {
        Slot(e, &col->children[0], &col->children[0].values, false);
      }
    }
    col->offsets.push_back(col->offsets.back() + static_cast<int32_t>(entries));
  }

  std::mt19937 rng_;
  std::map<const ColumnData*, size_t> struct_slots_;
};

RowBatch RandomRows(const FileSchema& s, size_t n, uint32_t seed, int64_t first_offset) {
  Gen gen(seed);
  RowBatch b;
  b.num_rows = n;
  b.columns.resize(s.fields.size());
  for (size_t c = 0; c < s.fields.size(); ++c) {
    ColumnData& col = b.columns[c];
    if (s.fields[c].shape == S::kList || s.fields[c].shape == S::kMap) col.offsets.push_back(0);
    if (c == 0) {
      for (size_t i = 0; i < n; ++i) col.values.ints.push_back(first_offset + static_cast<int64_t>(i));
      continue;
    }
    gen.Slots(s.fields[c], n, &col, &col.values);
  }
  return b;
}

// A slot as text: what a reader of the file sees, whatever lies under nulls.
std::string Render(const FieldSchema& f, const ColumnData* col, const ValueVector* prim, size_t i) {
  if (f.is_primitive()) {
    if (prim->IsNull(i)) return "null";
    switch (f.value.type) {
      case ValueType::kString:
      case ValueType::kBinary:
        return "'" + std::string(prim->bytes[i]) + "'";
      case ValueType::kDouble:
        return std::to_string(prim->doubles[i]);
      default:
        return std::to_string(prim->ints[i]);
    }
  }
  if (!col->is_null.empty() && col->is_null[i]) return "null";
  std::string out;
  if (f.shape == S::kStruct) {
    out = "{";
    for (size_t k = 0; k < f.children.size(); ++k) {
      out += f.children[k].name + ":" +
             Render(f.children[k], &col->children[k], &col->children[k].values, i) +
             (k + 1 < f.children.size() ? "," : "");
    }
    return out + "}";
  }
  out = "[";
  const FieldSchema& e = f.children.back();
  for (auto j = static_cast<size_t>(col->offsets[i]); j < static_cast<size_t>(col->offsets[i + 1]); ++j) {
    if (f.shape == S::kMap) out += Render(f.children[0], nullptr, &col->keys, j) + "=";
    out += e.is_primitive() ? Render(e, nullptr, &col->values, j)
                            : Render(e, &col->children[0], &col->children[0].values, j);
    out += ";";
  }
  return out + "]";
}

std::vector<std::string> RenderRows(const std::vector<FieldSchema>& fields, const RowBatch& b) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < b.num_rows; ++i) {
    std::string r;
    for (size_t c = 0; c < fields.size(); ++c)
      r += fields[c].name + "=" + Render(fields[c], &b.columns[c], &b.columns[c].values, i) + " ";
    rows.push_back(r);
  }
  return rows;
}

struct Written {
  std::vector<uint8_t> bytes;
  WriteResult result;
  std::vector<std::string> rows;
};

Written WriteRandom(const FileSchema& schema, size_t batches, size_t rows_per_batch, WriterOptions o) {
  Written w;
  auto writer = FileWriter::Open(schema, o, std::make_unique<SharedSink>(&w.bytes));
  EXPECT_TRUE(writer.ok()) << writer.status().ToString();
  for (size_t b = 0; b < batches; ++b) {
    RowBatch batch = RandomRows(schema, rows_per_batch, static_cast<uint32_t>(b + 1),
                                static_cast<int64_t>(b * rows_per_batch));
    Status st = (*writer)->Write(batch);
    EXPECT_TRUE(st.ok()) << st.ToString();
    for (auto& r : RenderRows(schema.fields, batch)) w.rows.push_back(std::move(r));
  }
  auto res = (*writer)->Close();
  EXPECT_TRUE(res.ok()) << res.status().ToString();
  w.result = *res;
  return w;
}

WriterOptions SmallPages() {
  WriterOptions o;
  o.page_bytes = 256;
  o.row_group_bytes = 8192;
  return o;
}

TEST(ParquetNested, EveryShapeRoundTripsWithNullsAtEveryLevel) {
  const FileSchema schema = NestedSchema();
  Written w = WriteRandom(schema, 6, 700, SmallPages());
  auto r = FileReader::Open(std::make_unique<MemoryInputFile>(w.bytes));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GT((*r)->num_row_groups(), 2u);
  // Several pages in some chunk of a nested leaf.
  const auto& leaves = (*r)->leaves();
  size_t scores = leaves.size();
  for (size_t l = 0; l < leaves.size(); ++l)
    if (leaves[l].field_id == 11) scores = l;
  ASSERT_LT(scores, leaves.size());
  EXPECT_EQ(leaves[scores].max_rep, 2);
  EXPECT_EQ(leaves[scores].max_def, 6);  // people, list, element, scores, list, element
  EXPECT_EQ(leaves[scores].path,
            (std::vector<std::string>{"people", "list", "element", "scores", "list", "element"}));

  // The schema read back is the one written, ids and all.
  std::vector<LeafColumn> written_leaves;
  ASSERT_TRUE(ToParquetSchema(schema, &written_leaves).ok());
  ASSERT_EQ(written_leaves.size(), leaves.size());
  for (size_t l = 0; l < leaves.size(); ++l) {
    EXPECT_EQ(leaves[l].field_id, written_leaves[l].field_id);
    EXPECT_EQ(leaves[l].max_def, written_leaves[l].max_def);
    EXPECT_EQ(leaves[l].max_rep, written_leaves[l].max_rep);
  }

  std::vector<std::string> read;
  for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
    auto batch = (*r)->ReadRowGroup(g);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (auto& row : RenderRows((*r)->schema().fields, *batch)) read.push_back(std::move(row));
  }
  ASSERT_EQ(read.size(), w.rows.size());
  for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i], w.rows[i]) << "row " << i;

  // Streamed in odd batch sizes, the same rows.
  read.clear();
  for (size_t g = 0; g < (*r)->num_row_groups(); ++g) {
    auto rows = (*r)->OpenRowGroup(g);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    while ((*rows)->rows_left() > 0) {
      auto batch = (*rows)->Next(37);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      for (auto& row : RenderRows((*r)->schema().fields, *batch)) read.push_back(std::move(row));
    }
  }
  ASSERT_EQ(read.size(), w.rows.size());
  for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i], w.rows[i]) << "row " << i;
}

TEST(ParquetNested, ProjectionReadsOnlyTheColumnsAskedFor) {
  const FileSchema schema = NestedSchema();
  Written w = WriteRandom(schema, 2, 500, SmallPages());
  auto r = FileReader::Open(std::make_unique<MemoryInputFile>(w.bytes));
  ASSERT_TRUE(r.ok());
  // The flat offset column alone, then one nested column in the middle.
  auto offsets = (*r)->ReadRowGroup(0, {0});
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  ASSERT_EQ(offsets->columns.size(), 1u);
  for (size_t i = 0; i < offsets->num_rows; ++i)
    ASSERT_EQ(offsets->columns[0].values.ints[i], static_cast<int64_t>(i));
  auto people = (*r)->ReadRowGroup(0, {3, 2});
  ASSERT_TRUE(people.ok()) << people.status().ToString();
  const auto& f = (*r)->schema().fields;
  for (size_t i = 0; i < people->num_rows; ++i) {
    std::string expect = w.rows[i];
    std::string got = f[2].name + "=" + Render(f[2], &people->columns[1], &people->columns[1].values, i);
    EXPECT_NE(expect.find(got + " "), std::string::npos) << got;
    got = f[3].name + "=" + Render(f[3], &people->columns[0], &people->columns[0].values, i);
    EXPECT_NE(expect.find(got + " "), std::string::npos) << got;
  }
}

TEST(ParquetNested, AppendRowReordersNestedRows) {
  const FileSchema schema = NestedSchema();
  RowBatch src = RandomRows(schema, 300, 7, 0);
  const auto rows = RenderRows(schema.fields, src);
  RowBatch reversed;
  for (size_t i = src.num_rows; i-- > 0;) AppendRow(schema.fields, src, i, &reversed);
  const auto got = RenderRows(schema.fields, reversed);
  ASSERT_EQ(got.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(got[i], rows[rows.size() - 1 - i]);
  // And what AppendRow builds is a batch the writer takes.
  std::vector<uint8_t> bytes;
  auto w = FileWriter::Open(schema, WriterOptions{}, std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok());
  Status st = (*w)->Write(reversed);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST(ParquetNested, MetricsCountLevelEntriesPerLeaf) {
  FileSchema schema;
  schema.fields.push_back(
      Struct("s", 1, false, {Prim("a", 2, false, ValueType::kInt64), Prim("b", 3, true, ValueType::kInt64)}));
  schema.fields.push_back(List("l", 4, false, Prim("", 5, false, ValueType::kInt64)));
  Normalize(&schema);
  // Rows: s null; s{a null, b 7}; s{a 3, b -2}.  l: null, [], [1, null, 9].
  RowBatch b;
  b.num_rows = 3;
  b.columns.resize(2);
  ColumnData& s = b.columns[0];
  s.is_null = {1, 0, 0};
  s.children.resize(2);
  s.children[0].values.ints = {0, 0, 3};
  s.children[0].values.is_null = {1, 1, 0};
  s.children[1].values.ints = {99, 7, -2};
  ColumnData& l = b.columns[1];
  l.is_null = {1, 0, 0};
  l.offsets = {0, 0, 0, 3};
  l.values.ints = {1, 0, 9};
  l.values.is_null = {0, 1, 0};
  std::vector<uint8_t> bytes;
  auto w = FileWriter::Open(schema, WriterOptions{}, std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(b).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->columns.size(), 3u);
  const ColumnMetrics& a = res->columns[0];
  EXPECT_EQ(a.field_id, 2);
  EXPECT_EQ(a.value_count, 3);
  EXPECT_EQ(a.null_count, 2);  // under the null struct, and the null value
  EXPECT_EQ(a.lower_bound, a.upper_bound);
  const ColumnMetrics& bm = res->columns[1];
  EXPECT_EQ(bm.null_count, 1);  // the required b is "null" only where s is
  std::string lo(8, '\0'), hi(8, '\0');
  const int64_t mn = -2, mx = 7;  // 99 under the null struct is no value
  std::memcpy(lo.data(), &mn, 8);
  std::memcpy(hi.data(), &mx, 8);
  EXPECT_EQ(bm.lower_bound, lo);
  EXPECT_EQ(bm.upper_bound, hi);
  const ColumnMetrics& e = res->columns[2];
  EXPECT_EQ(e.value_count, 5);  // null list, empty list, three elements
  EXPECT_EQ(e.null_count, 3);
}

TEST(ParquetNested, BadBatchesAreRefusedWholeAndTheFileStaysUsable) {
  const FileSchema schema = NestedSchema();
  std::vector<uint8_t> bytes;
  auto w = FileWriter::Open(schema, SmallPages(), std::make_unique<SharedSink>(&bytes));
  ASSERT_TRUE(w.ok());
  const RowBatch good = RandomRows(schema, 50, 3, 0);
  auto expect_refused = [&](RowBatch bad, const std::string& what) {
    Status st = (*w)->Write(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << what << ": " << st.ToString();
  };
  RowBatch b = good;
  b.columns[1].children.pop_back();  // a struct field missing
  expect_refused(b, "struct children");
  b = good;
  b.columns[2].offsets.back() += 5;  // past the elements
  expect_refused(b, "list offsets");
  b = good;
  b.columns[7].is_null.assign(50, 0);  // the required struct, null where present
  b.columns[7].is_null[3] = 1;
  expect_refused(b, "required struct");
  b = good;
  b.columns[7].children[0].values.is_null.assign(50, 0);  // a required field of it null
  b.columns[7].children[0].values.is_null[10] = 1;
  expect_refused(b, "required field");
  b = good;
  b.columns[3].keys.is_null.assign(b.columns[3].keys.size(ValueType::kString), 0);  // a null map key
  if (!b.columns[3].keys.is_null.empty()) {
    b.columns[3].keys.is_null[0] = 1;
    expect_refused(b, "null key");
  }
  ASSERT_TRUE((*w)->Write(good).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->record_count, 50);
  auto r = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
  ASSERT_TRUE(r.ok());
  auto batch = (*r)->ReadRowGroup(0);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(RenderRows((*r)->schema().fields, *batch), RenderRows(schema.fields, good));
}

TEST(ParquetNested, SchemasThatCannotBeWrittenAreRefused) {
  std::vector<LeafColumn> leaves;
  FileSchema s;
  s.fields.push_back(Struct("empty", 1, false, {}));
  EXPECT_EQ(ToParquetSchema(s, &leaves).status().code(), StatusCode::kInvalidArgument);
  s.fields = {Map("m", 1, false, List("", 2, true, Prim("", 3, true, ValueType::kInt32)),
                  Prim("", 4, false, ValueType::kInt32))};
  EXPECT_EQ(ToParquetSchema(s, &leaves).status().code(), StatusCode::kInvalidArgument);  // non-primitive key
  s.fields = {Struct("s", 1, false,
                     {Prim("a", 2, false, ValueType::kInt32), Prim("a", 3, false, ValueType::kInt32)})};
  EXPECT_EQ(ToParquetSchema(s, &leaves).status().code(), StatusCode::kInvalidArgument);  // a name twice
  s.fields = {List("l", 1, false, Prim("", 1, false, ValueType::kInt32))};
  EXPECT_EQ(ToParquetSchema(s, &leaves).status().code(), StatusCode::kInvalidArgument);  // an id twice
  FieldSchema deep = Prim("x", 100, false, ValueType::kInt32);
  for (int i = 0; i < 80; ++i) deep = Struct("s", 1 + i, false, {deep});
  s.fields = {deep};
  EXPECT_EQ(ToParquetSchema(s, &leaves).status().code(), StatusCode::kInvalidArgument);  // too deep
}

SchemaElement Group(std::string name, std::optional<Repetition> rep, int32_t children,
                    LogicalType::Kind kind = LogicalType::Kind::kNone) {
  SchemaElement e;
  e.name = std::move(name);
  e.repetition = rep;
  e.num_children = children;
  e.logical_type.kind = kind;
  return e;
}

SchemaElement Leaf(std::string name, Repetition rep, PhysicalType type) {
  SchemaElement e;
  e.name = std::move(name);
  e.repetition = rep;
  e.type = type;
  return e;
}

// The backward-compatibility rules of LogicalTypes.md for lists that other
// writers produce: the levels and the element they describe.
TEST(ParquetNested, LegacyListLayoutsAreRecognized) {
  using R = Repetition;
  using K = LogicalType::Kind;
  std::vector<SchemaElement> el = {
      Group("schema", std::nullopt, 5),
      // optional group a (LIST) { repeated int32 element; }
      Group("a", R::kOptional, 1, K::kList), Leaf("element", R::kRepeated, PhysicalType::kInt32),
      // optional group b (LIST) { repeated group array { optional binary s; } }
      Group("b", R::kOptional, 1, K::kList), Group("array", R::kRepeated, 1),
      Leaf("s", R::kOptional, PhysicalType::kByteArray),
      // optional group c (LIST) { repeated group element { required int64 x; optional int64 y; } }
      Group("c", R::kOptional, 1, K::kList), Group("element", R::kRepeated, 2),
      Leaf("x", R::kRequired, PhysicalType::kInt64), Leaf("y", R::kOptional, PhysicalType::kInt64),
      // repeated int32 d;  (a repeated field outside any LIST)
      Leaf("d", R::kRepeated, PhysicalType::kInt32),
      // optional group e (LIST) { repeated group list { optional int32 item; } }  (three-level)
      Group("e", R::kOptional, 1, K::kList), Group("list", R::kRepeated, 1),
      Leaf("item", R::kOptional, PhysicalType::kInt32)};
  std::vector<LeafColumn> leaves;
  auto schema = FromParquetSchema(el, &leaves);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  const auto& f = schema->fields;
  ASSERT_EQ(f.size(), 5u);
  // a: list<required int>
  EXPECT_EQ(f[0].shape, S::kList);
  EXPECT_TRUE(f[0].children[0].is_primitive() && f[0].children[0].required);
  // b: list<required struct<s>>
  EXPECT_EQ(f[1].children[0].shape, S::kStruct);
  EXPECT_TRUE(f[1].children[0].required);
  // c: list<required struct<x, y>>
  EXPECT_EQ(f[2].children[0].shape, S::kStruct);
  EXPECT_EQ(f[2].children[0].children.size(), 2u);
  // d: required list<required int>
  EXPECT_EQ(f[3].shape, S::kList);
  EXPECT_TRUE(f[3].required);
  // e: list<optional int>
  EXPECT_FALSE(f[4].children[0].required);
  std::vector<std::pair<int, int>> levels;
  for (const auto& l : leaves) levels.emplace_back(l.max_def, l.max_rep);
  EXPECT_EQ(levels, (std::vector<std::pair<int, int>>{{2, 1}, {3, 1}, {2, 1}, {3, 1}, {1, 1}, {3, 1}}));

  // A MAP whose repeated group lacks a value, and a LIST of two children, are errors.
  std::vector<SchemaElement> bad = {Group("schema", std::nullopt, 1), Group("m", R::kOptional, 1, K::kMap),
                                    Group("key_value", R::kRepeated, 1),
                                    Leaf("key", R::kRequired, PhysicalType::kByteArray)};
  EXPECT_EQ(FromParquetSchema(bad, &leaves).status().code(), StatusCode::kInvalidArgument);
  bad = {Group("schema", std::nullopt, 1), Group("l", R::kOptional, 2, K::kList),
         Leaf("a", R::kRepeated, PhysicalType::kInt32), Leaf("b", R::kRepeated, PhysicalType::kInt32)};
  EXPECT_EQ(FromParquetSchema(bad, &leaves).status().code(), StatusCode::kInvalidArgument);
}

// A file whose footer schema disagrees with its pages: each mutation of
// the schema is an error on open or on read, never a crash.
TEST(ParquetNested, InconsistentFilesAreErrors) {
  const FileSchema schema = NestedSchema();
  Written w = WriteRandom(schema, 1, 300, SmallPages());
  auto good = FileReader::Open(std::make_unique<MemoryInputFile>(w.bytes));
  ASSERT_TRUE(good.ok());
  const FileMetaData meta = (*good)->metadata();
  const uint32_t footer_len = static_cast<uint32_t>(w.bytes[w.bytes.size() - 8]) |
                              (static_cast<uint32_t>(w.bytes[w.bytes.size() - 7]) << 8) |
                              (static_cast<uint32_t>(w.bytes[w.bytes.size() - 6]) << 16) |
                              (static_cast<uint32_t>(w.bytes[w.bytes.size() - 5]) << 24);
  const size_t data_end = w.bytes.size() - 8 - footer_len;
  auto with_meta = [&](const FileMetaData& m) {
    std::vector<uint8_t> out(w.bytes.begin(), w.bytes.begin() + static_cast<ptrdiff_t>(data_end));
    std::vector<uint8_t> footer;
    EncodeFileMetaData(m, &footer);
    out.insert(out.end(), footer.begin(), footer.end());
    const auto n = static_cast<uint32_t>(footer.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    for (char c : std::string("PAR1")) out.push_back(static_cast<uint8_t>(c));
    return out;
  };
  size_t errors = 0;
  for (size_t e = 1; e < meta.schema.size(); ++e) {
    for (int mutation = 0; mutation < 4; ++mutation) {
      FileMetaData m = meta;
      SchemaElement& el = m.schema[e];
      switch (mutation) {
        case 0:  // optional <-> required: the levels no longer fit
          if (!el.repetition || *el.repetition == Repetition::kRepeated) continue;
          el.repetition =
              *el.repetition == Repetition::kRequired ? Repetition::kOptional : Repetition::kRequired;
          break;
        case 1:  // a group loses its annotation (a list becomes a struct)
          if (!el.num_children || el.logical_type.kind == LogicalType::Kind::kNone) continue;
          el.logical_type.kind = LogicalType::Kind::kNone;
          el.converted_type.reset();
          el.converted_type_raw.reset();
          break;
        case 2:  // a wrong child count
          if (!el.num_children) continue;
          el.num_children = *el.num_children + 1;
          break;
        case 3:  // repeated where it was not
          if (el.repetition == Repetition::kRepeated) continue;
          el.repetition = Repetition::kRepeated;
          break;
      }
      const auto bytes = with_meta(m);
      auto r = FileReader::Open(std::make_unique<MemoryInputFile>(bytes));
      if (!r.ok()) {
        ++errors;
        continue;
      }
      bool failed = false;
      for (size_t g = 0; g < (*r)->num_row_groups() && !failed; ++g) failed = !(*r)->ReadRowGroup(g).ok();
      errors += failed;
    }
  }
  EXPECT_GT(errors, 20u);
}

}  // namespace
}  // namespace frazil::parquet
