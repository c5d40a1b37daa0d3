// buildme.conf (lib/config/ini.hpp, lib/config/config.hpp): INI syntax,
// %(name)s interpolation and the typed reading of every section. Every
// value of every section is also expanded, with the variables the programs
// give, so that interpolation is fuzzed beyond the keys buildme reads.
#include "config/config.hpp"
#include "config/ini.hpp"
#include "fuzz.hpp"

using namespace buildme;
using buildme::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const auto text = fuzz::text_of(data, size);
  auto ini = config::IniFile::parse(text, "fuzz.conf");
  if (ini) {
    const config::IniFile::Vars vars = {{"product", "fremantle"}, {"repository", "extras"}};
    auto expand = [&](const config::IniFile::Section& section) {
      for (const auto& entry : section.entries) {
        auto value = ini->get(section.name, entry.key, vars);
        require(!value || (*value && (*value)->size() <= 64 * 1024), "a value expands past 64 KiB");
      }
    };
    expand(ini->defaults());
    for (const auto& section : ini->sections()) {
      expand(section);
    }
  }
  (void)config::parse_config(text, "fuzz.conf"); // must not crash
  return 0;
}
