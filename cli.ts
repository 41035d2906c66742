/**
 * Command line for linux-loader: `inspect IMAGE`, `boot [IMAGE] ...`, `demo`.
 *
 * @module
 */
if (import.meta.main) {
  console.log("usage: cli.ts inspect IMAGE | boot [IMAGE] [--cmdline S] [--initrd FILE] [--protocol linux|pvh] | demo");
}
