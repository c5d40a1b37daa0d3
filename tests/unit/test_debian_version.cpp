#include "debian/version.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace unit_test_debian_version {

using buildme::debian::compare;
using buildme::debian::Version;

namespace {

Version v(std::string_view text)
{
  auto parsed = Version::parse(text);
  INFO("version: ", std::string(text));
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.message()));
  return *parsed;
}

int sign(int n)
{
  return (n > 0) - (n < 0);
}

int cmp(std::string_view a, std::string_view b)
{
  return sign(compare(v(a), v(b)));
}

// The message of a version that must not parse.
std::string rejection(std::string_view text)
{
  auto parsed = Version::parse(text);
  if (parsed.ok()) {
    FAIL_CHECK("accepted a bad version: ", parsed->to_string());
    return {};
  }
  return parsed.message();
}

} // namespace

TEST_CASE("a full version splits into epoch, upstream version and revision")
{
  auto version = v("2:1.0.3~rc1+dfsg-0ubuntu1.2");
  CHECK(version.epoch == 2);
  CHECK(version.has_epoch);
  CHECK(version.upstream == "1.0.3~rc1+dfsg");
  CHECK(version.revision == "0ubuntu1.2");
  CHECK(version.to_string() == "2:1.0.3~rc1+dfsg-0ubuntu1.2");
  CHECK(version.without_epoch() == "1.0.3~rc1+dfsg-0ubuntu1.2");
}

TEST_CASE("the last hyphen starts the revision; earlier ones belong upstream")
{
  auto version = v("1.0-beta-2-3");
  CHECK(version.upstream == "1.0-beta-2");
  CHECK(version.revision == "3");
  CHECK(version.without_epoch() == "1.0-beta-2-3");
}

TEST_CASE("a native version has no revision and no epoch unless written")
{
  auto version = v("20240101");
  CHECK(version.epoch == 0);
  CHECK_FALSE(version.has_epoch);
  CHECK(version.revision.empty());
  CHECK(version.to_string() == "20240101");
}

TEST_CASE("an explicit epoch of zero is kept when written back")
{
  auto version = v("0:1.0");
  CHECK(version.has_epoch);
  CHECK(version.to_string() == "0:1.0");
  CHECK(version.without_epoch() == "1.0");
}

TEST_CASE("a colon in the upstream version is allowed only after an epoch")
{
  auto version = v("1:2:3-4");
  CHECK(version.epoch == 1);
  CHECK(version.upstream == "2:3");
  CHECK(v("2:3").upstream == "3"); // the first colon always ends the epoch
  CHECK(rejection("a:3").find("epoch in version is not number") != std::string::npos);
  CHECK(rejection("1.0-1:2").find("epoch in version is not number") != std::string::npos);
}

TEST_CASE("surrounding blanks are ignored as dpkg ignores them")
{
  CHECK(v("  1.0-1\t").to_string() == "1.0-1");
}

TEST_CASE("bad versions are rejected in dpkg's words, quoting the version")
{
  struct Bad
  {
    std::string text;
    const char* why;
  };
  const Bad cases[] = {
    {"", "version string is empty"},
    {"   ", "version string is empty"},
    {"1 0", "version string has embedded spaces"},
    {"1.0 -1", "version string has embedded spaces"},
    {":1", "epoch in version is empty"},
    {"1:", "nothing after colon in version number"},
    {"x:1.0", "epoch in version is not number"},
    {"+1:1.0", "epoch in version is not number"},
    {"1a:1.0", "epoch in version is not number"},
    {"-1:1.0", "epoch in version is negative"},
    {"2147483648:1.0", "epoch in version is too big"},
    {"99999999999999999999999999:1.0", "epoch in version is too big"},
    {"1.0-", "revision number is empty"},
    {"-1", "version number is empty"},
    {"1:-1", "version number is empty"},
    {"a1", "version number does not start with digit"},
    {"~1", "version number does not start with digit"},
    {".1", "version number does not start with digit"},
    {"1.0_1", "invalid character in version number"},
    {"1.0\n", "invalid character in version number"},
    {"1.0/../x", "invalid character in version number"},
    {std::string("1.0\0evil", 8), "invalid character in version number"},
    {"1.0-1:2", "epoch in version is not number"},
    {"1.0-1_2", "invalid character in revision number"},
    {"1.0-a-", "revision number is empty"},
    {"1.0-1\x1b[31m", "invalid character in revision number"},
    {std::string("1.0-1\0", 6), "invalid character in revision number"},
  };
  for (const auto& bad : cases) {
    INFO("version: ", bad.text);
    auto message = rejection(bad.text);
    CHECK(message.find(bad.why) != std::string::npos);
    CHECK(message.find("invalid version '") == 0);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find('\x1b') == std::string::npos);
    CHECK(message.find('\0') == std::string::npos);
  }
}

TEST_CASE("the largest epoch dpkg allows is accepted")
{
  CHECK(v("2147483647:1").epoch == 2147483647UL);
  CHECK(v("0000000000002:1").epoch == 2);
}

TEST_CASE("versions order as dpkg orders them")
{
  CHECK(cmp("1.0~rc1", "1.0") < 0);
  CHECK(cmp("1.0~~", "1.0~") < 0);
  CHECK(cmp("1.0~", "1.0") < 0);
  CHECK(cmp("1.0", "1.0+b1") < 0);
  CHECK(cmp("1.0", "1.0a") < 0);
  CHECK(cmp("1.0a", "1.0+") < 0); // letters before other characters
  CHECK(cmp("1.0a", "1.0.") < 0);
  CHECK(cmp("1.0Z", "1.0a") < 0); // ASCII among letters
  CHECK(cmp("1:0.1", "9.9") > 0);
  CHECK(cmp("0:9.9", "9.9") == 0);
  CHECK(cmp("1.0-1", "1.0-1.1") < 0);
  CHECK(cmp("1.0-1", "1.0-1~bpo1") > 0);
  CHECK(cmp("00", "0") == 0);
  CHECK(cmp("1.0", "1.0-0") == 0);
  CHECK(cmp("1.01", "1.1") == 0);
  CHECK(cmp("1.9", "1.10") < 0);
  CHECK(cmp("2.0", "10.0") < 0);
  CHECK(cmp("1.2.3", "1.2") > 0);
  CHECK(cmp("1.0-2", "1.0-10") < 0);
  CHECK(cmp("1a", "1.") < 0);
}

TEST_CASE("numbers too long for any integer type still compare by value")
{
  CHECK(cmp("123456789012345678901234567891", "123456789012345678901234567890") > 0);
  CHECK(cmp("99999999999999999999999", "100000000000000000000000") < 0);
  CHECK(cmp("000000000000000000000000001", "1") == 0);
  CHECK(cmp("1.0-18446744073709551617", "1.0-18446744073709551616") > 0);
}

TEST_CASE("comparison operators follow compare()")
{
  CHECK(v("1.0") < v("1.1"));
  CHECK_FALSE(v("1.1") < v("1.0"));
  CHECK(v("1.0") == v("1.00"));
  CHECK_FALSE(v("1.0") == v("1.0-1"));
}

// --- Oracle: the real dpkg --------------------------------------------------

namespace {

// A generator whose output is the same on every platform: the standard
// distributions are not, std::mt19937 is.
class Dice
{
public:
  explicit Dice(std::uint32_t seed) : m_engine(seed) {}
  size_t below(size_t n) { return static_cast<size_t>(m_engine() % n); }
  bool chance(size_t percent) { return below(100) < percent; }
  template<typename T, size_t N>
  const T& pick(const T (&items)[N])
  {
    return items[below(N)];
  }

private:
  std::mt19937 m_engine;
};

const char* const g_tokens[] = {
  "0", "1", "2", "9", "10", "00", "01",    "007",  "99",   "100",    "12345678901234567890123",
  "a", "b", "z", "A", "Z",  "rc", "alpha", "beta", "dfsg", "ubuntu", "bpo",
  ".", ".", "+", "~", "~~", "-",  ":",
};

std::string tokens(Dice& dice, size_t max)
{
  std::string out;
  for (size_t n = dice.below(max + 1); n > 0; --n) {
    out += dice.pick(g_tokens);
  }
  return out;
}

struct Parts
{
  std::string epoch; // with its colon, or empty
  std::string upstream;
  std::string revision;

  std::string text() const { return epoch + upstream + (revision.empty() ? "" : "-" + revision); }
};

// Keeps a generated version inside what dpkg accepts: upstream starts with a
// digit, revision has no '-' or ':', upstream has '-' only with a revision
// and ':' only with an epoch.
Parts valid(Parts parts)
{
  if (parts.upstream.empty() || parts.upstream[0] < '0' || parts.upstream[0] > '9') {
    parts.upstream.insert(0, "1");
  }
  for (char& c : parts.revision) {
    if (c == '-' || c == ':') {
      c = '.';
    }
  }
  for (char& c : parts.upstream) {
    if ((c == '-' && parts.revision.empty()) || (c == ':' && parts.epoch.empty())) {
      c = '.';
    }
  }
  return parts;
}

Parts random_version(Dice& dice)
{
  const char* const epochs[] = {"0:", "1:", "2:", "01:", "10:"};
  Parts parts;
  if (dice.chance(25)) {
    parts.epoch = dice.pick(epochs);
  }
  parts.upstream = tokens(dice, 6);
  if (dice.chance(60)) {
    parts.revision = tokens(dice, 3);
  }
  return valid(parts);
}

std::string mutate(Dice& dice, std::string text)
{
  if (dice.chance(40)) {
    text.resize(dice.below(text.size() + 1));
  }
  return text + tokens(dice, 2);
}

// A version close to `base`: the same up to some point, then different, so
// that the comparison has to look far in.
Parts neighbour(Dice& dice, const Parts& base)
{
  const char* const epochs[] = {"", "0:", "1:", "2:", "01:"};
  Parts parts = base;
  if (dice.chance(10)) {
    parts.epoch = dice.pick(epochs);
  }
  switch (dice.below(4)) {
  case 0: // the very same version, perhaps written differently
    for (const char* zero : {"1", "0"}) {
      if (auto at = parts.upstream.find(zero, 1); at != std::string::npos && dice.chance(50)) {
        parts.upstream.insert(at, "0");
      }
    }
    break;
  case 1:
    parts.upstream = mutate(dice, parts.upstream);
    break;
  case 2:
    parts.revision = mutate(dice, parts.revision);
    break;
  default:
    parts.upstream = mutate(dice, parts.upstream);
    parts.revision = mutate(dice, parts.revision);
    break;
  }
  return valid(parts);
}

} // namespace

TEST_CASE("compare() agrees with dpkg --compare-versions and Dpkg::Version on thousands of close "
          "pairs")
{
  Dice dice(20240601);
  const int pairs = 3200;
  std::vector<std::pair<std::string, std::string>> versions;
  for (int i = 0; i < pairs; ++i) {
    Parts a = random_version(dice);
    Parts b = neighbour(dice, a);
    if (dice.chance(50)) {
      std::swap(a, b);
    }
    versions.emplace_back(a.text(), b.text());
  }
  // dpkg itself (the C program) is asked about the first 400 pairs, from
  // one shell; dpkg's own Perl module (Dpkg::Version, which dpkg-dev's tools
  // order versions with) about all of them, in one process. A dpkg process
  // per question cost a minute of CPU for the 3200. The versions hold no
  // quote or tab (the generator's alphabet), so quotes keep them words.
  const std::size_t asked_of_dpkg = 400;
  std::string script;
  std::string lines;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const auto& [left, right] = versions[i];
    REQUIRE(left.find_first_of("'\t") == std::string::npos);
    REQUIRE(right.find_first_of("'\t") == std::string::npos);
    lines += left + "\t" + right + "\n";
    if (i < asked_of_dpkg) {
      script += fmt::format("if dpkg --compare-versions '{0}' lt '{1}'; then echo '0 1'; "
                            "else dpkg --compare-versions '{0}' eq '{1}'; echo \"1 $?\"; fi\n",
                            left, right);
    }
  }
  buildme::util::ProcessOptions options;
  options.stdin_data = script;
  auto run = buildme::util::run_process({"sh"}, options);
  REQUIRE_MESSAGE(run.ok(), "the oracle test needs the real dpkg (apt install dpkg dpkg-dev): ",
                  (run.ok() ? std::string() : run.message()));
  INFO("dpkg's stderr: ", run->err);
  REQUIRE(run->err.empty());
  REQUIRE(run->exit_code == 0);
  options.stdin_data = lines;
  auto perl = buildme::util::run_process(
    {"perl", "-MDpkg::Version", "-ne",
     "chomp; my ($a, $b) = split /\\t/; print version_compare($a, $b), qq{\\n}"},
    options);
  REQUIRE_MESSAGE(perl.ok(),
                  "the oracle test needs dpkg's Perl modules (apt install "
                  "libdpkg-perl): ",
                  (perl.ok() ? std::string() : perl.message()));
  INFO("perl's stderr: ", perl->err);
  REQUIRE(perl->exit_code == 0);
  const auto answers = buildme::util::split(run->out, "\n");
  const auto perl_answers = buildme::util::split(perl->out, "\n");
  REQUIRE(answers.size() == asked_of_dpkg);
  REQUIRE(perl_answers.size() == versions.size());
  int seen[3] = {};
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const auto& [left, right] = versions[i];
    const std::string_view said = perl_answers[i];
    INFO("pair ", i, ": '", left, "' vs '", right, "', Dpkg::Version said ", said);
    REQUIRE((said == "-1" || said == "0" || said == "1"));
    const int theirs = said == "-1" ? -1 : said == "0" ? 0 : 1;
    if (i < asked_of_dpkg) {
      const std::string_view answer = answers[i];
      INFO("dpkg said lt/eq ", answer);
      REQUIRE((answer == "0 1" || answer == "1 0" || answer == "1 1"));
      CHECK(theirs == (answer == "0 1" ? -1 : answer == "1 0" ? 0 : 1));
    }
    int ours = cmp(left, right);
    CHECK(ours == -cmp(right, left));
    CHECK(ours == theirs);
    ++seen[theirs + 1];
  }
  // The generator must produce every outcome in earnest, or the test proves
  // little.
  CHECK(seen[0] > pairs / 10);
  CHECK(seen[1] > pairs / 20);
  CHECK(seen[2] > pairs / 10);
}

TEST_CASE("parse() accepts exactly what dpkg accepts without complaint")
{
  const char alphabet[] = "0123456789aZ.-+~:_ \t";
  Dice dice(77);
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 600; ++i) {
    std::string text;
    for (size_t n = 1 + dice.below(7); n > 0; --n) {
      text += alphabet[dice.below(sizeof alphabet - 1)];
    }
    // dpkg reads an epoch with strtol(), which takes a sign and leading
    // white space; we are stricter there on purpose.
    auto start = text.find_first_not_of(" \t");
    if (start != std::string::npos && text.find(':') != std::string::npos &&
        (text[start] == '+' || text[start] == '-')) {
      continue;
    }
    auto run = buildme::util::run_process({"dpkg", "--compare-versions", text, "eq", "1"});
    REQUIRE_MESSAGE(run.ok(), "the oracle test needs the real dpkg (apt install dpkg dpkg-dev): ",
                    (run.ok() ? std::string() : run.message()));
    bool dpkg_accepts = run->err.empty() && (run->exit_code == 0 || run->exit_code == 1);
    auto ours = Version::parse(text);
    INFO("version '", text, "', dpkg said: ", run->err,
         " we said: ", ours.ok() ? std::string("fine") : ours.message());
    CHECK(ours.ok() == dpkg_accepts);
    ++(dpkg_accepts ? accepted : rejected);
  }
  CHECK(accepted > 50);
  CHECK(rejected > 50);
}

} // namespace unit_test_debian_version
