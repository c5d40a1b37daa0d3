// The buildme command line: one tick of intake, or a maintenance command.
#pragma once

namespace buildme::app {

int main(int argc, char** argv);

} // namespace buildme::app
