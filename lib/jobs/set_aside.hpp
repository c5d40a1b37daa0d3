// Setting files aside with a reason: the one way buildme moves what it will
// not take into a rejected/ folder, used by intake's rejects and orphans
// (jobs/state_dir.hpp) and by queue-manage's refusals (repo/take_in.hpp).
//
// Contract:
//  - Journalled: the journal is written in the caller's journal folder
//    before the first move and removed after the .reason is written and the
//    rejected folder synced, so a run killed at any point is finished by
//    replay_set_aside.
//  - The control (a file, or a whole folder such as a build's unit) moves
//    last, to a name chosen and journalled first, so that a replay knows
//    where it went.
//  - Nothing is overwritten: a name already in rejected/ gets NAME.1,
//    NAME.2, ...; the control's name is chosen so that its .reason is free
//    too.
//  - A replay never takes a new file of the same name: when the journal
//    knows a file's inode, only that inode is moved.
//  - A journal that cannot be read or lacks what a replay needs is an Error
//    naming it and saying what to do; nothing is guessed.
//
// The .reason file (reason_text) is the caller's header of "Field: value"
// lines, a blank line, the reason, a blank line, then "Files moved to this
// folder:" with one line per name: "  NAME", "  NAME (as NAME.1)", a folder
// as "  NAME/".
#pragma once

#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildme::jobs {

// The header of a .reason file, in order: {"Upload", "hello_1.0-1.dsc"}.
// Names and values are one line each (callers pass util::printable text).
using ReasonHeader = debian::FieldList;

struct SetAside
{
  std::filesystem::path from_dir;
  std::filesystem::path rejected_dir;
  std::string control;            // a file or a folder in from_dir, moved last
  std::vector<std::string> files; // the other files to move, first
  ReasonHeader header;
  std::string reason;
  // The inodes of `files` and of the control when the set-aside began (0 or
  // missing: unknown, the name is trusted), so that a replay never takes a
  // new file of the same name for one of these.
  std::vector<unsigned long> inodes;
  unsigned long control_inode = 0;
  std::string control_target; // the control's name in rejected_dir, once chosen
};

struct SetAsideOutcome
{
  std::filesystem::path control;                          // where the control went
  std::filesystem::path reason;                           // the .reason file
  std::vector<std::pair<std::string, std::string>> moved; // name -> name in rejected_dir
};

// Journals the set-aside in `journal_dir` (created when missing), then
// performs it.
Result<SetAsideOutcome> set_aside(const std::filesystem::path& journal_dir, SetAside move);

// Does this journal record describe a set-aside? (Its Action is "reject",
// the word intake's journals have always used.)
bool is_set_aside_journal(const debian::Paragraph& record);

// Finishes the set-aside that `journal` (its record read already) describes,
// including a journal written by an older buildme. `advice` is appended to
// an Error about the journal itself: what the operator is to do.
Result<SetAsideOutcome> replay_set_aside(const std::filesystem::path& journal,
                                         const debian::Paragraph& record, std::string_view advice);

// Replays every journal in `journal_dir` (a folder that only set-asides
// use); one line per finished set-aside, for the log.
Result<std::vector<std::string>> replay_set_asides(const std::filesystem::path& journal_dir,
                                                   std::string_view advice);

// One name in the list of a .reason file: `as` is its name in the rejected
// folder (empty: moved by an interrupted run to a name not found).
struct MovedName
{
  std::string name;
  std::string as;
  bool folder = false;
};

// The text of a .reason file (see the top of this header).
std::string reason_text(const ReasonHeader& header, std::string_view reason,
                        const std::vector<MovedName>& moved);

} // namespace buildme::jobs
