# cmake -DIN=file -DOUT=file.cpp -DNAME=ident -DNS=namespace -P embed_file.cmake: the bytes of IN
# as a C++ array (the BPF object of the kernel's fast path, src/detect/kernel_fastpath.h).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(([^,]*,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_file.cmake.\n#include <cstddef>\n#include <cstdint>\nnamespace ${NS} {\nextern const uint8_t ${NAME}[];\nextern const size_t ${NAME}Size;\nalignas(8) const uint8_t ${NAME}[] = {\n${bytes}\n};\nconst size_t ${NAME}Size = ${size};\n}\n")
