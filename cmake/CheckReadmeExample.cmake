# cmake -DREADME=<file> -DEXAMPLE=<file> -P CheckReadmeExample.cmake
# Fails unless the example's source appears in the README exactly as it is in the file.
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
string(FIND "${readme}" "${example}" position)
if(position EQUAL -1)
  message(FATAL_ERROR
    "README.md does not contain ${EXAMPLE} verbatim. Paste the file's current contents into "
    "the README's code block for it.")
endif()
