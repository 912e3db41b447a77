#pragma once

namespace kdr::cli {

// The whole command line: parse, build the context, run the command, map every error
// to its exit code. Returns the process exit code.
int main(int argc, char** argv);

}  // namespace kdr::cli
