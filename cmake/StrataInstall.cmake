# `cmake --install`: the library's public headers, its layers (static unless BUILD_SHARED_LIBS),
# the `strata` executable, a CMake package (find_package(strata CONFIG), target strata::strata)
# and a pkg-config file. Internal headers under src/ are never installed.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(STRATA_LIBRARY_TARGETS strata_core strata_asio strata_memory strata_redis strata_cache)

# One target for users: everything the cache needs.
add_library(strata_all INTERFACE)
add_library(strata::strata ALIAS strata_all)
set_target_properties(strata_all PROPERTIES EXPORT_NAME strata)
target_link_libraries(strata_all INTERFACE strata_cache)

# Shared layers find each other beside themselves, and the executable finds them in ../lib,
# wherever the prefix is.
foreach(layer IN LISTS STRATA_LIBRARY_TARGETS)
  string(REPLACE "strata_" "" short_name ${layer})
  set_target_properties(${layer} PROPERTIES EXPORT_NAME ${short_name} VERSION ${PROJECT_VERSION}
                                            SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
                                            INSTALL_RPATH "$ORIGIN")
endforeach()
if(BUILD_SHARED_LIBS)
  file(RELATIVE_PATH STRATA_BIN_TO_LIB "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}"
       "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(strata PROPERTIES INSTALL_RPATH "$ORIGIN/${STRATA_BIN_TO_LIB}")
endif()

install(TARGETS ${STRATA_LIBRARY_TARGETS} strata_all
  EXPORT strataTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/strata DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  # Test helpers for the library's users (a manual clock) stay; nothing else is left out.
  COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/strata/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strata
  COMPONENT dev)
install(TARGETS strata RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)

set(STRATA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/strata)
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${STRATA_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/strataConfig.cmake.in
  ${PROJECT_BINARY_DIR}/strataConfig.cmake INSTALL_DESTINATION ${STRATA_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/strataConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/strataConfig.cmake ${PROJECT_BINARY_DIR}/strataConfigVersion.cmake
  DESTINATION ${STRATA_CMAKE_DIR} COMPONENT dev)

# pkg-config: the layers in link order, and what a static link needs after them.
# Static layers need their dependencies on every link; shared ones carry them.
if(BUILD_SHARED_LIBS)
  set(STRATA_PC_REQUIRES_FIELD "Requires.private")
else()
  set(STRATA_PC_REQUIRES_FIELD "Requires")
endif()
file(RELATIVE_PATH STRATA_PC_TO_PREFIX "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/strata.pc.in ${PROJECT_BINARY_DIR}/strata.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/strata.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
