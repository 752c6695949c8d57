// The file operations' codecs (src/proto/file_frames): round trips, every
// truncation, reserved bits, limits, leftovers, seeded garbage, and the
// receiving end of a file stream cut at every point.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/primitives.hpp"
#include "proto/file_frames.hpp"
#include "util/encoding.hpp"

namespace signet::proto {
namespace {

using util::Bytes;
using util::ByteSpan;

template <typename Decode>
void expect_every_truncation_fails(const Bytes& whole, Decode decode) {
  for (std::size_t n = 0; n < whole.size(); ++n) {
    auto r = decode(ByteSpan(whole).first(n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    if (!r.ok()) {
      EXPECT_TRUE(r.error().is(Errc::truncated) || r.error().is(Errc::too_large))
          << r.error().message();
    }
  }
  Bytes longer = whole;
  longer.push_back(0);
  auto r = decode(longer);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::trailing_data));
}

TEST(ProtoFiles, PutRequestRoundTripsAndIsExact) {
  PutRequest p{true, 0x0102030405060708ull, 0640, -5, "in/r.pdf"};
  const Bytes b = encode(p);
  // flags | size | mode | mtime | name length | name
  const Bytes expected = {0x01, 1,    2,    3,    4,    5,    6,    7,    8,    0,    0,
                          0x01, 0xA0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0,
                          8,    'i',  'n',  '/',  'r',  '.',  'p',  'd',  'f'};
  EXPECT_EQ(b, expected);
  auto d = decode_put(b);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_TRUE(d->replace);
  EXPECT_EQ(d->size, p.size);
  EXPECT_EQ(d->mode, 0640u);
  EXPECT_EQ(d->mtime, -5);
  EXPECT_EQ(d->name, "in/r.pdf");
  EXPECT_EQ(encode(*d), b);
  expect_every_truncation_fails(b, decode_put);
}

// docs/PROTOCOL.md, "Files": the example PUT, byte for byte.
TEST(ProtoFiles, TheProtocolDocumentsExamplePut) {
  const auto header = open_header(1, static_cast<std::uint8_t>(Kind::put), false);
  Bytes payload(header.begin(), header.end());
  const Bytes body = encode(PutRequest{false, 6, 0644, 1764660000, "in/h.txt"});
  payload.insert(payload.end(), body.begin(), body.end());
  EXPECT_EQ(util::to_hex(payload),
            "000000010200"
            "00"
            "0000000000000006"
            "000001a4"
            "00000000692e9320"
            "0008696e2f682e747874");
  EXPECT_EQ(util::to_hex(crypto::sha256({util::as_bytes("hello\n")})),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
}

TEST(ProtoFiles, PutRequestRefusesReservedFlagsModeBitsAndLongNames) {
  Bytes b = encode(PutRequest{false, 1, 0644, 0, "a"});
  b[0] = 0x02;
  EXPECT_TRUE(decode_put(b).error().is(Errc::malformed));
  b = encode(PutRequest{false, 1, 0644, 0, "a"});
  b[9 + 1] = 0x10;  // mode 0x00100000 + 0644: beyond 07777
  EXPECT_TRUE(decode_put(b).error().is(Errc::malformed));
  // A name length above the limit is refused before the name is read.
  b = encode(PutRequest{false, 1, 0644, 0, ""});
  b[b.size() - 2] = 0x10;
  b[b.size() - 1] = 0x01;  // 4097
  EXPECT_TRUE(decode_put(b).error().is(Errc::too_large));
  EXPECT_THROW(encode(PutRequest{false, 1, 0644, 0, std::string(kMaxNameSize + 1, 'a')}),
               std::logic_error);
  // The encoder keeps only the mode bits the format carries.
  EXPECT_EQ(decode_put(encode(PutRequest{false, 0, 0170644, 0, "a"}))->mode, 0644u);
}

TEST(ProtoFiles, GetAndListRequestsRoundTrip) {
  const Bytes g = encode(GetRequest{"releases/1.4/x.tar"});
  EXPECT_EQ(g.size(), 1u + 2u + 18u);
  EXPECT_EQ(decode_get(g)->name, "releases/1.4/x.tar");
  expect_every_truncation_fails(g, decode_get);
  const Bytes l = encode(ListRequest{""});
  EXPECT_EQ(l, (Bytes{0, 0, 0}));
  EXPECT_EQ(decode_list(l)->name, "");
  expect_every_truncation_fails(l, decode_list);
  Bytes bad = g;
  bad[0] = kReplace;  // GET has no flags
  EXPECT_TRUE(decode_get(bad).error().is(Errc::malformed));
  const Bytes tree = encode(ListRequest{"a", true});
  EXPECT_EQ(tree, (Bytes{kRecursive, 0, 1, 'a'}));
  EXPECT_TRUE(decode_list(tree)->recursive);
  EXPECT_FALSE(decode_list(l)->recursive);
  bad = tree;
  bad[0] = 0x02;
  EXPECT_TRUE(decode_list(bad).error().is(Errc::malformed));
}

TEST(ProtoFiles, FileHeaderRoundTrips) {
  const FileHeader h{1ull << 40, 0755, 1700000000};
  const auto b = encode(h);
  auto d = decode_file_header(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size, h.size);
  EXPECT_EQ(d->mode, h.mode);
  EXPECT_EQ(d->mtime, h.mtime);
  expect_every_truncation_fails(Bytes(b.begin(), b.end()), decode_file_header);
}

TEST(ProtoFiles, ListEntriesAreTakenOnlyWhenComplete) {
  Bytes stream;
  append(stream, ListEntry{EntryType::directory, 0, 0755, 10, "releases"});
  append(stream, ListEntry{EntryType::file, 12345, 0644, -1, "r.pdf"});
  std::size_t first_size = 0;
  for (std::size_t n = 0; n <= stream.size(); ++n) {
    auto t = take_list_entry(ByteSpan(stream).first(n));
    ASSERT_TRUE(t.ok());
    if (!t->has_value()) continue;
    if (first_size == 0) first_size = (*t)->second;
    EXPECT_EQ((*t)->first.name, "releases");
    EXPECT_EQ((*t)->first.type, EntryType::directory);
  }
  EXPECT_EQ(first_size, 23u + 8u);
  auto second = take_list_entry(ByteSpan(stream).subspan(first_size));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->first.name, "r.pdf");
  EXPECT_EQ((*second)->first.size, 12345u);
  EXPECT_EQ((*second)->first.mtime, -1);
  EXPECT_EQ((*second)->second, stream.size() - first_size);
  Bytes bad = stream;
  bad[0] = 9;
  EXPECT_TRUE(take_list_entry(bad).error().is(Errc::malformed));
}

TEST(ProtoFiles, FileStreamSplitsContentFromDigestWhereverDataIsCut) {
  const Bytes content = {'h', 'e', 'l', 'l', 'o'};
  const auto digest = crypto::sha256({content});
  Bytes stream = content;
  stream.insert(stream.end(), digest.begin(), digest.end());
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FileStream s(content.size());
    Bytes got;
    for (ByteSpan part : {ByteSpan(stream).first(cut), ByteSpan(stream).subspan(cut)}) {
      auto c = s.take(part);
      ASSERT_TRUE(c.ok());
      got.insert(got.end(), c->begin(), c->end());
    }
    EXPECT_EQ(got, content);
    EXPECT_TRUE(s.finish().ok());
    EXPECT_EQ(s.digest(), digest);
  }
  // Short content, a short digest, and a byte too many are all refused.
  FileStream short_content(content.size());
  ASSERT_TRUE(short_content.take(ByteSpan(content).first(4)).ok());
  EXPECT_TRUE(short_content.finish().error().is(Errc::truncated));
  FileStream short_digest(content.size());
  ASSERT_TRUE(short_digest.take(ByteSpan(stream).first(stream.size() - 1)).ok());
  EXPECT_TRUE(short_digest.finish().error().is(Errc::truncated));
  FileStream too_much(content.size());
  Bytes longer = stream;
  longer.push_back(0);
  EXPECT_TRUE(too_much.take(longer).error().is(Errc::too_large));
  // An empty file is just its digest.
  FileStream empty(0);
  const auto empty_digest = crypto::sha256({});
  EXPECT_TRUE(empty.take(empty_digest).ok());
  EXPECT_EQ(empty.received(), 0u);
  EXPECT_TRUE(empty.finish().ok());
}

TEST(ProtoFiles, SeededGarbageNeverCrashesAndWhatDecodesReencodesTheSame) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 40);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && rng() % 2 == 0) b[0] &= 1;  // often valid flags
    if (auto p = decode_put(b); p.ok()) {
      EXPECT_EQ(encode(*p), b);
    }
    if (auto g = decode_get(b); g.ok()) {
      EXPECT_EQ(encode(*g), b);
    }
    if (auto l = decode_list(b); l.ok()) {
      EXPECT_EQ(encode(*l), b);
    }
    if (auto h = decode_file_header(b); h.ok()) {
      const auto again = encode(*h);
      EXPECT_EQ(Bytes(again.begin(), again.end()), b);
    }
    if (auto e = take_list_entry(b); e.ok() && e->has_value()) {
      Bytes again;
      append(again, (*e)->first);
      EXPECT_EQ(again, Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>((*e)->second)));
    }
  }
}

}  // namespace
}  // namespace signet::proto
