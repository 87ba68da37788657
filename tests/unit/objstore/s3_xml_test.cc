#include "frazil/objstore/s3_xml.h"

#include <gtest/gtest.h>

namespace frazil::objstore::xml {
namespace {

TEST(S3XmlTest, FindsElementsOfAListing) {
  std::string doc =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
      "<Contents><Key>c&#x2F;d&#233;</Key><Size>10</Size></Contents><Prefix/>"
      "<NextContinuationToken>tok==</NextContinuationToken></ListBucketResult>";
  auto contents = Elements(doc, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(FirstText(contents[0], "Key"), "a&b");
  EXPECT_EQ(FirstText(contents[1], "Key"), "c/d\xc3\xa9");
  EXPECT_EQ(FirstText(contents[1], "Size"), "10");
  EXPECT_EQ(FirstText(doc, "Key"), "a&b");  // not confused by <KeyCount>
  EXPECT_EQ(FirstText(doc, "KeyCount"), "2");
  EXPECT_EQ(FirstText(doc, "NextContinuationToken"), "tok==");
  EXPECT_EQ(Elements(doc, "Prefix").size(), 1u);
  EXPECT_EQ(FirstText(doc, "Missing"), "");
}

TEST(S3XmlTest, EscapeRoundTripsAndLeavesBadEntitiesAlone) {
  std::string key = "a<b>&\"c'\x01";
  EXPECT_EQ(Escape(key), "a&lt;b&gt;&amp;&quot;c&apos;&#1;");
  EXPECT_EQ(Unescape(Escape(key)), key);
  EXPECT_EQ(Unescape("x &bogus; &#xZZ; &"), "x &bogus; &#xZZ; &");
}

}  // namespace
}  // namespace frazil::objstore::xml
