# One library target per module, one test binary per unit test file
# (the shape of Abseil's absl_cc_library / absl_cc_test).
#
#   mercator_cc_library(NAME segment SRCS a.cc b.cc DEPS mercator_common roaring::roaring)
#   mercator_cc_test(NAME segment_rule_test SRCS rule_test.cc DEPS mercator_segment)
#
# Library targets are called mercator_<NAME>.

function(mercator_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(mercator_${ARG_NAME} STATIC ${ARG_SRCS})
  target_link_libraries(mercator_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

function(mercator_cc_test)
  if(NOT MERCATOR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "MERCATOR_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
