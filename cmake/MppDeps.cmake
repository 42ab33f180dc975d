# The libraries every room builds on, found through pkg-config.
#
# msgpack-c: Debian 12 ships 4.x as `msgpack.pc`; Debian 13 and sid ship
# 6.x/7.x as `msgpack-c.pc`, whose includedir is relative ("include"),
# which CMake refuses in an imported target's include directories.  So the
# target is built by hand here, with the include directory made absolute
# against the .pc file's prefix.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_package(Threads REQUIRED)

pkg_search_module(MSGPACK REQUIRED msgpack-c msgpack)
add_library(mpp_msgpack INTERFACE)
set(mpp_msgpack_inc)
foreach(dir ${MSGPACK_INCLUDE_DIRS})
  if(NOT IS_ABSOLUTE "${dir}")
    set(dir "${MSGPACK_PREFIX}/${dir}")
  endif()
  list(APPEND mpp_msgpack_inc "${dir}")
endforeach()
if(NOT mpp_msgpack_inc)
  pkg_get_variable(mpp_msgpack_incdir "${MSGPACK_MODULE_NAME}" includedir)
  if(mpp_msgpack_incdir AND NOT IS_ABSOLUTE "${mpp_msgpack_incdir}")
    set(mpp_msgpack_incdir "${MSGPACK_PREFIX}/${mpp_msgpack_incdir}")
  endif()
  set(mpp_msgpack_inc "${mpp_msgpack_incdir}")
endif()
target_include_directories(mpp_msgpack INTERFACE ${mpp_msgpack_inc})
find_library(MPP_MSGPACK_LIB NAMES ${MSGPACK_LIBRARIES}
             HINTS ${MSGPACK_LIBRARY_DIRS} REQUIRED)
target_link_libraries(mpp_msgpack INTERFACE ${MPP_MSGPACK_LIB})
message(STATUS "mpprof: msgpack-c ${MSGPACK_VERSION} (${MSGPACK_MODULE_NAME}): "
               "${MPP_MSGPACK_LIB}")
