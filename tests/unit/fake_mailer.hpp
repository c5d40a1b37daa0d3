// A Mailer that keeps what it is given instead of talking SMTP, and answers
// what the test tells it to.
#pragma once

#include "mail/smtp.hpp"

#include <string>
#include <vector>

namespace buildme::test {

class FakeMailer : public mail::Mailer
{
public:
  struct Sent
  {
    std::string from;
    std::vector<std::string> recipients;
    std::string rendered;
  };

  mail::SendResult send(const std::string& envelope_from,
                        const std::vector<std::string>& recipients,
                        const std::string& rendered) override
  {
    ++attempts;
    if (answer.outcome != mail::SendResult::Outcome::accepted) {
      return answer;
    }
    sent.push_back({envelope_from, recipients, rendered});
    return answer;
  }

  Status check() override
  {
    if (answer.outcome == mail::SendResult::Outcome::unavailable) {
      return fail("{}", answer.error);
    }
    return {};
  }

  mail::SendResult answer; // accepted unless a test says otherwise
  int attempts = 0;
  std::vector<Sent> sent;
};

} // namespace buildme::test
