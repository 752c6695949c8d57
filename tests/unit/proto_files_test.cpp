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
  b[0] = 0x04;
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
  bad[0] = 0x02;  // GET's only flag is RESUME
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
  expect_every_truncation_fails(Bytes(b.begin(), b.end()),
                                [](ByteSpan x) { return decode_file_header(x); });
}

// Resuming (docs/PROTOCOL.md, "Resuming"): PUT's RESUME flag and the
// server's answer; GET's resume point and its longer header.
TEST(ProtoFiles, ResumeFieldsRoundTripAndAreChecked) {
  PutRequest p{false, 1000, 0644, 7, "a", true};
  Bytes b = encode(p);
  EXPECT_EQ(b[0], 0x02);
  EXPECT_TRUE(decode_put(b)->resume);
  EXPECT_FALSE(decode_put(encode(PutRequest{true, 1, 0644, 0, "a"}))->resume);

  ResumeAnswer a{kResumeResumed, 4096, {}};
  a.prefix.fill(0xAB);
  const auto ab = encode(a);
  ASSERT_EQ(ab.size(), kResumeAnswerSize);
  EXPECT_EQ(ab[0], 1);
  EXPECT_EQ(util::load_u64(ab.data() + 1), 4096u);
  auto ad = decode_resume_answer(ab);
  ASSERT_TRUE(ad.ok()) << ad.error().message();
  EXPECT_EQ(ad->offset, 4096u);
  EXPECT_EQ(ad->prefix, a.prefix);
  expect_every_truncation_fails(Bytes(ab.begin(), ab.end()), decode_resume_answer);
  Bytes bad(ab.begin(), ab.end());
  bad[0] = 3;  // no such outcome
  EXPECT_TRUE(decode_resume_answer(bad).error().is(Errc::malformed));
  bad[0] = kResumeFresh;  // an offset without resuming
  EXPECT_TRUE(decode_resume_answer(bad).error().is(Errc::malformed));
  bad = Bytes(ab.begin(), ab.end());
  bad[8] = 0x01;  // 4097: not a whole number of hash blocks
  EXPECT_TRUE(decode_resume_answer(bad).error().is(Errc::malformed));
  const auto fresh = encode(ResumeAnswer{kResumeChanged, 0, {}});
  EXPECT_EQ(decode_resume_answer(fresh)->outcome, kResumeChanged);

  GetRequest g{"x/y", GetResume{64, 1000, -3, {}}};
  g.resume->prefix.fill(0x11);
  const Bytes gb = encode(g);
  EXPECT_EQ(gb.size(), 1u + 8 + 8 + 8 + 32 + 2 + 3);
  EXPECT_EQ(gb[0], kGetResume);
  auto gd = decode_get(gb);
  ASSERT_TRUE(gd.ok()) << gd.error().message();
  ASSERT_TRUE(gd->resume.has_value());
  EXPECT_EQ(gd->resume->offset, 64u);
  EXPECT_EQ(gd->resume->size, 1000u);
  EXPECT_EQ(gd->resume->mtime, -3);
  EXPECT_EQ(gd->resume->prefix, g.resume->prefix);
  EXPECT_EQ(gd->name, "x/y");
  EXPECT_EQ(encode(*gd), gb);
  expect_every_truncation_fails(gb, decode_get);
  Bytes past = gb;
  past[1] = 0xFF;  // offset above the size
  EXPECT_TRUE(decode_get(past).error().is(Errc::malformed));

  const FileHeader h{1000, 0600, 5, 640};
  const auto hb = encode_resumed(h);
  ASSERT_EQ(hb.size(), kResumedFileHeaderSize);
  auto hd = decode_file_header(hb, true);
  ASSERT_TRUE(hd.ok());
  EXPECT_EQ(hd->offset, 640u);
  EXPECT_EQ(hd->size, 1000u);
  expect_every_truncation_fails(Bytes(hb.begin(), hb.end()),
                                [](ByteSpan x) { return decode_file_header(x, true); });
  auto over = hb;
  util::store_u64(over.data() + kFileHeaderSize, 1001);
  EXPECT_TRUE(decode_file_header(over, true).error().is(Errc::malformed));

  // A resumed stream counts from its offset and takes only the rest.
  FileStream st(100, 64);
  EXPECT_EQ(st.received(), 64u);
  Bytes rest(36 + kDigestSize, 0);
  auto c = st.take(rest);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 36u);
  EXPECT_TRUE(st.finish().ok());
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

// A GET's receipt follows the digest: with `after`, the bytes beyond the
// digest come back there, wherever the data is cut.
TEST(ProtoFiles, FileStreamHandsBackWhatFollowsTheDigest) {
  const Bytes content = {'a', 'b', 'c'};
  const auto digest = crypto::sha256({content});
  const Bytes receipt = {'r', 'e', 'c'};
  Bytes stream = content;
  stream.insert(stream.end(), digest.begin(), digest.end());
  stream.insert(stream.end(), receipt.begin(), receipt.end());
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FileStream s(content.size());
    Bytes got, rest;
    for (ByteSpan part : {ByteSpan(stream).first(cut), ByteSpan(stream).subspan(cut)}) {
      ByteSpan after;
      auto c = s.take(part, &after);
      ASSERT_TRUE(c.ok());
      got.insert(got.end(), c->begin(), c->end());
      rest.insert(rest.end(), after.begin(), after.end());
    }
    EXPECT_EQ(got, content);
    EXPECT_EQ(rest, receipt) << "cut at " << cut;
    EXPECT_TRUE(s.finish().ok());
    EXPECT_EQ(s.digest(), digest);
  }
}

TEST(ProtoFiles, SeededGarbageNeverCrashesAndWhatDecodesReencodesTheSame) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 40);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && rng() % 2 == 0) b[0] &= 3;  // often valid flags
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
    if (auto h = decode_file_header(b, true); h.ok()) {
      const auto again = encode_resumed(*h);
      EXPECT_EQ(Bytes(again.begin(), again.end()), b);
    }
    if (auto a = decode_resume_answer(b); a.ok()) {
      const auto again = encode(*a);
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
