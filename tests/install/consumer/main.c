/* Parses a spec and compiles it to PTX through the installed C API (libkvjit.so). */
#include <kvjit.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  kvjit_spec spec;
  size_t needed = 0;
  char* ptx;
  if (kvjit_abi_version() != KVJIT_ABI_VERSION) {
    fprintf(stderr, "libkvjit ABI %d, header %d\n", kvjit_abi_version(), KVJIT_ABI_VERSION);
    return 1;
  }
  if (kvjit_spec_parse("append:hd=128,kv=int8,arch=sm_90", &spec) != KVJIT_OK ||
      kvjit_compile_ptx(&spec, NULL, 0, &needed) != KVJIT_ERROR_BUFFER_TOO_SMALL) {
    fprintf(stderr, "%s\n", kvjit_last_error());
    return 1;
  }
  ptx = (char*)malloc(needed);
  if (ptx == NULL || kvjit_compile_ptx(&spec, ptx, needed, NULL) != KVJIT_OK) {
    fprintf(stderr, "%s\n", kvjit_last_error());
    return 1;
  }
  printf("consumer_c: kvjit %s, %zu bytes of PTX\n", kvjit_version(), needed - 1);
  free(ptx);
  return 0;
}
