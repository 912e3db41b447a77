#include "cli/cli.hpp"

int main(int argc, char** argv) { return kdr::cli::main(argc, argv); }
