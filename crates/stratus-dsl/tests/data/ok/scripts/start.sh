#!/bin/sh
ctx logger info start
