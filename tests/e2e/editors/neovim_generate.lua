-- Drive Hearth's Generate in a real headless Neovim with the configuration of docs/editors.md.
-- Run by tests/e2e/test_neovim.py as `nvim --headless -u NONE -i NONE -c "luafile <this>"`;
-- $HEARTH_E2E names a JSON file: {scenario, config, file, title, cursor, elsewhere?, result,
-- timeout_ms}; `title` is the code action to run.
-- Scenarios: "resolve" (codeAction, codeAction/resolve, apply_workspace_edit step by step),
-- "menu" (the <leader>ca mapping and vim.lsp.buf.code_action), "command" (:HearthGenerate).
-- Whatever happens, it writes {ok, error, messages, titles, text, timings, ...} to `result`.

local job = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv('HEARTH_E2E')), '\n'))
local out = { ok = false, scenario = job.scenario, messages = {}, problems = 0, timings = {},
  nvim = string.format('%d.%d.%d', vim.version().major, vim.version().minor, vim.version().patch) }

local function note(message)
  table.insert(out.messages, message)
end

local function seconds_since(start)
  return (vim.loop.hrtime() - start) / 1e9
end

local replies = 0
vim.notify = function(message, level)
  note(string.format('notify[%s]: %s', tostring(level), message))
  if level and level >= vim.log.levels.WARN then
    out.problems = out.problems + 1
  elseif message:find('^Hearth: ') then
    replies = replies + 1
  end
end
vim.lsp.handlers['window/showMessage'] = function(_, result)
  note('showMessage: ' .. result.message)
  if result.type <= vim.lsp.protocol.MessageType.Warning then
    out.problems = out.problems + 1
  end
end

local function wait_for(what, timeout_ms, predicate)
  local start = vim.loop.hrtime()
  if not vim.wait(timeout_ms, predicate, 50) then
    error(string.format('timed out after %d ms waiting for %s', timeout_ms, what))
  end
  return seconds_since(start)
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'
end

-- Put the cursor on the first byte of `needle` (Neovim columns are bytes).
local function place_cursor(bufnr, needle)
  for row, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local col = line:find(needle, 1, true)
    if col then
      vim.api.nvim_win_set_cursor(0, { row, col - 1 })
      return
    end
  end
  error('cursor text not found in the buffer: ' .. needle)
end

local function hearth_client(bufnr)
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == 'hearth' then
      return client
    end
  end
end

local function code_action_titles(bufnr, client)
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local start = vim.loop.hrtime()
  local replies = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', params, 30000)
  local elapsed = seconds_since(start)
  local reply = (replies or {})[client.id]
  if not reply then
    error('no textDocument/codeAction reply from hearth')
  end
  if reply.err then
    error('textDocument/codeAction failed: ' .. reply.err.message)
  end
  local titles = {}
  for _, action in ipairs(reply.result or {}) do
    table.insert(titles, action.title)
  end
  return titles, reply.result or {}, elapsed
end

local function resolve_and_apply(bufnr, client)
  place_cursor(bufnr, job.elsewhere)
  out.titles_elsewhere = code_action_titles(bufnr, client)
  place_cursor(bufnr, job.cursor)
  local titles, actions, elapsed = code_action_titles(bufnr, client)
  out.titles, out.timings.code_action_s = titles, elapsed
  for _, action in ipairs(actions) do
    if action.title == job.title then
      out.action = action
    end
  end
  if not out.action then
    error('no code action titled ' .. job.title)
  end
  local start = vim.loop.hrtime()
  local reply, err = client.request_sync('codeAction/resolve', out.action, job.timeout_ms, bufnr)
  out.timings.generate_s = seconds_since(start)
  if not reply then
    error('codeAction/resolve: ' .. tostring(err))
  end
  if reply.err then
    error('codeAction/resolve failed: ' .. reply.err.message)
  end
  out.resolved_title = reply.result.title
  vim.lsp.util.apply_workspace_edit(reply.result.edit, client.offset_encoding)
end

-- What a person does: press <leader>ca and pick the Hearth action in vim.ui.select.
local function pick_from_menu(bufnr)
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  out.titles = {}
  vim.ui.select = function(items, opts, on_choice)
    local chosen
    for _, item in ipairs(items) do
      local title = opts.format_item and opts.format_item(item) or tostring(item)
      table.insert(out.titles, title)
      if title == job.title then
        chosen = chosen or item
      end
    end
    on_choice(chosen)
  end
  local start = vim.loop.hrtime()
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<leader>ca', true, false, true), 'x',
    false)
  wait_for('the edit', job.timeout_ms, function()
    return vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or out.problems > 0
  end)
  out.timings.generate_s = seconds_since(start)
end

-- :HearthGenerate asks the server to run hearth.generate; the server sends workspace/applyEdit.
local function run_user_command(bufnr)
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local start = vim.loop.hrtime()
  vim.cmd('HearthGenerate')
  wait_for('the reply to hearth.generate', job.timeout_ms, function()
    return replies > 0 or out.problems > 0
  end)
  out.timings.generate_s = seconds_since(start)
  out.edited = vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
end

local function main()
  vim.cmd('filetype on')
  dofile(job.config)
  local start = vim.loop.hrtime()
  vim.cmd('edit ' .. vim.fn.fnameescape(job.file))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  out.timings.attach_s = wait_for('hearth to attach and initialize', 120000, function()
    client = hearth_client(bufnr)
    return client ~= nil and client.initialized == true
  end)
  out.timings.startup_s = seconds_since(start)
  out.offset_encoding = client.offset_encoding
  out.text_before = buffer_text(bufnr)
  place_cursor(bufnr, job.cursor)
  if job.scenario == 'resolve' then
    resolve_and_apply(bufnr, client)
  elseif job.scenario == 'menu' then
    pick_from_menu(bufnr)
  elseif job.scenario == 'command' then
    run_user_command(bufnr)
  else
    error('unknown scenario ' .. tostring(job.scenario))
  end
  out.text = buffer_text(bufnr)
  vim.cmd('write')
  out.ok = true
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  out.error = err
end
vim.fn.writefile({ vim.fn.json_encode(out) }, job.result)
vim.lsp.stop_client(vim.lsp.get_active_clients())
vim.wait(5000, function()
  return #vim.lsp.get_active_clients() == 0
end, 50)
vim.cmd(ok and 'qall!' or 'cquit! 1')
