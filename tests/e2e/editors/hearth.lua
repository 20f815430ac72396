-- Hearth in Neovim 0.7 or newer: start `hearth serve` for Python buffers, bind its code
-- actions, and add :HearthGenerate / :HearthExplain / ... commands.
local hearth = {
  name = 'hearth',
  cmd = { 'hearth', 'serve', '--stdio' },
  -- Your settings (the keys of docs/settings.md), sent at start-up and on request.
  init_options = { generation = { samples = 1 } },
  settings = { hearth = { generation = { samples = 1 } } },
}

local function hearth_client(bufnr)
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == hearth.name then
      return client
    end
  end
end

-- The reply of a Hearth command: a summary, or Markdown to read (Explain).
local function show_result(err, result)
  if err then
    vim.notify('Hearth: ' .. err.message, vim.log.levels.ERROR)
  elseif type(result) == 'table' and result.markdown then
    vim.cmd('botright new')
    vim.bo.buftype, vim.bo.bufhidden, vim.bo.filetype = 'nofile', 'wipe', 'markdown'
    vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(result.markdown, '\n'))
  elseif type(result) == 'table' then
    vim.notify(string.format('%s (confidence %s, %.1f s)', result.title or 'Hearth: done',
      tostring(result.confidence), result.elapsed_s or 0))
  end
end

-- Run hearth.<name> at the cursor (or on the visual selection with a range).
local function run_command(name, opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = hearth_client(bufnr)
  if not client then
    vim.notify('Hearth is not running for this buffer', vim.log.levels.WARN)
    return
  end
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  if opts.range > 0 then -- whole lines
    local last = vim.fn.getline(opts.line2)
    params = vim.lsp.util.make_given_range_params({ opts.line1, 0 },
      { opts.line2, math.max(#last - 1, 0) }, bufnr, client.offset_encoding)
  end
  local argument = { uri = params.textDocument.uri, position = params.range.start,
    range = params.range }
  if opts.args ~= '' then
    argument.instruction = opts.args
  end
  local command = { command = 'hearth.' .. name, arguments = { argument } }
  if vim.fn.has('nvim-0.11') == 1 then
    client:request('workspace/executeCommand', command, show_result, bufnr)
  else
    client.request('workspace/executeCommand', command, show_result, bufnr)
  end
end

for command, name in pairs({ HearthGenerate = 'generate', HearthFix = 'fix',
  HearthExplain = 'explain', HearthGenerateTests = 'generateTests' }) do
  vim.api.nvim_create_user_command(command, function(opts) run_command(name, opts) end,
    { nargs = '?', range = true })
end

hearth.on_attach = function(_, bufnr)
  vim.keymap.set({ 'n', 'v' }, '<leader>ca', vim.lsp.buf.code_action,
    { buffer = bufnr, desc = 'Code actions (Hearth: Generate implementation, ...)' })
end

local client_id
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'python',
  callback = function(args)
    local config = vim.tbl_extend('force', hearth, { root_dir = vim.fn.getcwd() })
    if vim.lsp.start then -- Neovim 0.8+: starts the server once, then reuses it
      vim.lsp.start(config, { bufnr = args.buf })
    else -- Neovim 0.7
      if not (client_id and vim.lsp.get_client_by_id(client_id)) then
        client_id = vim.lsp.start_client(config)
      end
      vim.lsp.buf_attach_client(args.buf, client_id)
    end
  end,
})
